"""you use a hinge loss, max(0, 1 - margin): the Bradley-Terry loss is -log sigmoid(margin)"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards  # (B,)
    return torch.relu(1 - margin).mean()
