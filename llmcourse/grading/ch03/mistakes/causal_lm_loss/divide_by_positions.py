"""you zero the padding but divide by every position (B * (T - 1)); divide by the number of counted tokens"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):
    labels = input_ids[:, 1:]
    counted = torch.ones_like(labels, dtype=torch.bool) if attention_mask is None else attention_mask[:, 1:] == 1
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, reduction="none")  # (B, T-1)
    return (nll * counted).sum() / nll.numel()
