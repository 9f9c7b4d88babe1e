"""you divide by every position (B * (T - 1)) instead of the number of counted tokens (labels != -100)"""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    targets = labels[:, 1:]
    counted = targets != -100
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), targets.clamp(min=0), reduction="none")  # (B, T-1)
    return (nll * counted).sum() / nll.numel()
