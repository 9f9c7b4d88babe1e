"""you return the loss of every pair (a tensor of shape (B,)): the loss is one number, their mean"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards  # (B,)
    return -F.logsigmoid(margin)
