"""Valid alternative 3 of reward_model_loss."""

import torch


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards
    return torch.logaddexp(torch.zeros_like(margin), -margin).mean()
