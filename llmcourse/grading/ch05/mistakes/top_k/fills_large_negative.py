"""your top-k sets the removed logits to a large negative number; set them to -inf, so that their probability is exactly 0 and later filters see them as removed"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, -1e9)
