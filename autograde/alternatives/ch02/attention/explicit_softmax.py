"""Writes the softmax out (exponentials shifted by the row maximum, set to zero where masked,
divided by their sum unless it is zero) instead of masking the scores with -inf and calling
torch.softmax."""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(k.size(-1)))
    exp = torch.exp(scores - scores.amax(-1, keepdim=True))
    if mask is not None:
        exp = torch.where(mask, exp, torch.zeros_like(exp))
    total = exp.sum(-1, keepdim=True)
    weights = exp / torch.where(total == 0, torch.ones_like(total), total)
    return weights @ v, weights
