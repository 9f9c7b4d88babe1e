"""you return the sum of the token losses; the loss is their mean (a sum grows with the batch and the length, and so would the gradients)"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):
    labels = input_ids[:, 1:]
    counted = torch.ones_like(labels, dtype=torch.bool) if attention_mask is None else attention_mask[:, 1:] == 1
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, reduction="none")  # (B, T-1)
    return (nll * counted).sum()
