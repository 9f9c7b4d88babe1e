"""you divide by the number of tokens (attention_mask.sum(), or B * T), but there is one prediction fewer per sequence: divide by the number of counted predictions (the mask of the targets, attention_mask[:, 1:])"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):
    labels = input_ids[:, 1:]
    counted = torch.ones_like(labels, dtype=torch.bool) if attention_mask is None else attention_mask[:, 1:] == 1
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, reduction="none")  # (B, T-1)
    tokens = input_ids.numel() if attention_mask is None else attention_mask.sum()
    return (nll * counted).sum() / tokens
