"""you average the margins before the log-sigmoid: the loss is the mean of -log sigmoid(margin) over the pairs, each pair on its own"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards  # (B,)
    return -F.logsigmoid(margin.mean())
