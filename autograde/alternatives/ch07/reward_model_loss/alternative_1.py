"""Valid alternative 1 of reward_model_loss."""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    return F.softplus(rejected_rewards - chosen_rewards).mean()
