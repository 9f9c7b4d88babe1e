"""Uses F.binary_cross_entropy_with_logits on the margin with a target of ones, instead of
-F.logsigmoid(margin).mean()."""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards
    return F.binary_cross_entropy_with_logits(margin, torch.ones_like(margin))
