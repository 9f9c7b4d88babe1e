"""your top-k returns the renormalised probabilities of the kept tokens; return the logits with -inf for the removed tokens (the sampler applies the softmax after all the processors)"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    filtered = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(filtered, dim=-1)
