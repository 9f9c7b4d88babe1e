"""your top-k sets the removed logits to 0, which still has a probability after the softmax (more than a negative logit!); set them to -inf"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return torch.where(logits < kth, torch.zeros_like(logits), logits)
