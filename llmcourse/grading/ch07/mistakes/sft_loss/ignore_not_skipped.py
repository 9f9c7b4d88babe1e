"""the -100 labels are not skipped: you replaced them by a real token id and counted them"""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].clamp(min=0).reshape(-1))
