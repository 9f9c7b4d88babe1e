"""you return a Python number (.item() / float()): return the tensor, so that loss.backward() can train the reward model"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards  # (B,)
    return -F.logsigmoid(margin).mean().item()
