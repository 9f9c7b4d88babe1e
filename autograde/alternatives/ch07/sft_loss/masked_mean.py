"""Takes every shifted token's loss with reduction="none" and averages them under a mask of the
counted targets, instead of letting ignore_index skip the -100 labels."""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    targets = labels[:, 1:]
    counted = targets != -100
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), targets.clamp(min=0), reduction="none")  # (B, T-1)
    return (nll * counted).sum() / counted.sum()
