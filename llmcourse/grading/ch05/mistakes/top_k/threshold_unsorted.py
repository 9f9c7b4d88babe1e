"""your top-k takes the logit at position k - 1 of the vocabulary as the threshold; the threshold is the k-th largest logit: sort (or torch.topk) first"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = logits[:, k - 1 : k]
    return logits.masked_fill(logits < kth, float("-inf"))
