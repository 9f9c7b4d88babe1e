"""your top-k returns the k largest values (B, k); return all V logits of each row, with -inf for the removed tokens, so that the token ids stay where they are"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    return torch.topk(logits, k, dim=-1).values
