"""your top-k sorts in ascending order (torch.sort's default), so its threshold is the k-th smallest logit; sort with descending=True"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    sorted_logits, _ = torch.sort(logits, dim=-1)
    kth = sorted_logits[:, k - 1 : k]
    return logits.masked_fill(logits < kth, float("-inf"))
