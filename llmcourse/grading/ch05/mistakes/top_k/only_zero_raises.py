"""your top-k raises ValueError for k = 0 only; a negative k is invalid too: raise for k <= 0"""

import torch


def top_k_filter(logits, k):
    if k == 0:
        raise ValueError("k must not be 0")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
