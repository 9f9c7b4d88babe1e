"""Takes the k-th largest logit from a full descending sort instead of topk and keeps the logits at
or above it with torch.where, returning a copy when k covers the vocabulary."""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("top-k needs k >= 1")
    V = logits.shape[-1]
    if k >= V:
        return logits.clone()
    sorted_desc, _ = torch.sort(logits, dim=-1, descending=True)
    threshold = sorted_desc[:, k - 1].unsqueeze(-1)  # (B, 1)
    return torch.where(logits >= threshold, logits, torch.full_like(logits, float("-inf")))
