"""you return -sigmoid(margin): the Bradley-Terry loss is the negative *log* of that probability"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards  # (B,)
    return -torch.sigmoid(margin).mean()
