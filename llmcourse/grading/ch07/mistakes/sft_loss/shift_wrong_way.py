"""you shift the wrong way: logits[:, 1:] against labels[:, :-1] asks each position to predict the token before it"""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, 1:].reshape(-1, V), labels[:, :-1].reshape(-1), ignore_index=-100)
