"""Returns the mean of softplus(rejected - chosen), which equals -log sigmoid(chosen - rejected),
instead of calling F.logsigmoid."""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    return F.softplus(rejected_rewards - chosen_rewards).mean()
