"""your top-k keeps exactly the k indices torch.topk returns; keep every logit equal to the k-th largest, so that tied tokens all stay (as Hugging Face does)"""

import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    values, indices = torch.topk(logits, k, dim=-1)
    out = torch.full_like(logits, float("-inf"))
    return out.scatter(-1, indices, values)
