"""Writes -log sigmoid(margin) as torch.logaddexp(0, -margin), instead of calling F.logsigmoid."""

import torch


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards
    return torch.logaddexp(torch.zeros_like(margin), -margin).mean()
