"""you pass the raw logits to F.nll_loss, which expects log-probabilities: apply log_softmax first, or use F.cross_entropy"""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    V = logits.shape[-1]
    return F.nll_loss(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
