"""you average each sequence first and then the sequences; Hugging Face's loss averages over all counted tokens of the batch together"""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    targets = labels[:, 1:]
    counted = targets != -100
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), targets.clamp(min=0), reduction="none")  # (B, T-1)
    return ((nll * counted).sum(1) / counted.sum(1).clamp(min=1)).mean()
