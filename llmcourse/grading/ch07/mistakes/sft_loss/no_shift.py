"""no shift: you score the logits at position t against labels[:, t]; the model would learn to copy its input. Compare logits[:, :-1] with labels[:, 1:]"""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
