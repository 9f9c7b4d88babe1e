"""your top-k raises ValueError when k is larger than the vocabulary; k >= V is valid and keeps every token (only k <= 0 is an error)"""

import torch


def top_k_filter(logits, k):
    if k <= 0 or k > logits.shape[-1]:
        raise ValueError("k must be between 1 and the vocabulary size")
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
