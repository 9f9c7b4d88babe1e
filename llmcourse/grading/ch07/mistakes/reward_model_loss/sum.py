"""you sum over the pairs: the loss is the mean over the batch"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards  # (B,)
    return -F.logsigmoid(margin).sum()
