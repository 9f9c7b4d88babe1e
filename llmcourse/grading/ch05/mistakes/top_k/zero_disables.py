"""your top-k treats k = 0 as 'no filtering'; generate's top_k=0 means that, but the filter itself must raise ValueError for k <= 0"""

import torch


def top_k_filter(logits, k):
    if k <= 0 or k >= logits.shape[-1]:
        return logits.clone()
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
