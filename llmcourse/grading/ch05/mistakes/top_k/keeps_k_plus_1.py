"""your top-k keeps k + 1 tokens: its threshold is the (k+1)-th largest logit (index k of the sorted logits; the k-th is at index k - 1)"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    if k >= logits.shape[-1]:
        return logits.clone()
    sorted_logits = torch.sort(logits, dim=-1, descending=True).values
    threshold = sorted_logits[:, k].unsqueeze(-1)
    return logits.masked_fill(logits < threshold, float("-inf"))
