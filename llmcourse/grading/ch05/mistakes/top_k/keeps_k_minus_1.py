"""your top-k keeps k - 1 tokens: it removes the k-th largest logit too (<= instead of <)"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.sort(logits, dim=-1, descending=True).values[:, k - 1 : k]
    return logits.masked_fill(logits <= kth, float("-inf"))
