"""you average each sequence first and then the sequences; Hugging Face (and this exercise) averages over all counted tokens together, so longer sequences weigh more"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):
    labels = input_ids[:, 1:]
    counted = torch.ones_like(labels, dtype=torch.bool) if attention_mask is None else attention_mask[:, 1:] == 1
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, reduction="none")  # (B, T-1)
    return ((nll * counted).sum(1) / counted.sum(1)).mean()
