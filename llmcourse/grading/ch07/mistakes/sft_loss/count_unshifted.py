"""you divide by the number of labels that are not -100 before the shift (labels != -100 on all T positions): count the targets that are scored, labels[:, 1:] != -100"""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    targets = labels[:, 1:]
    counted = targets != -100
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), targets.clamp(min=0), reduction="none")  # (B, T-1)
    return (nll * counted).sum() / (labels != -100).sum()
