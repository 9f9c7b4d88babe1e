"""your loss is computed from detached rewards (.detach() or .data): no gradient reaches the reward model, so loss.backward() trains nothing"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards.detach() - rejected_rewards.detach()
    return -F.logsigmoid(margin).mean()
