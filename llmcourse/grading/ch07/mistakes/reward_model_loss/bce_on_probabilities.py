"""you apply F.binary_cross_entropy to sigmoid(margin): it clamps the log at -100, so the loss of a very wrong pair stops at 100. Work with the margin itself: F.logsigmoid, or F.binary_cross_entropy_with_logits"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards  # (B,)
    probs = torch.sigmoid(margin)
    return F.binary_cross_entropy(probs, torch.ones_like(probs))
