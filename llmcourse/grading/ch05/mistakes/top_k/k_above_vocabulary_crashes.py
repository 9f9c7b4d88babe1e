"""your top-k fails when k is larger than the vocabulary (torch.topk cannot take more than V values); k >= V keeps every token: use min(k, V)"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
