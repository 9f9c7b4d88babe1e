"""your log_softmax runs over the positions (dim=1); it runs over the vocabulary (dim=-1)"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):
    labels = input_ids[:, 1:]
    counted = torch.ones_like(labels, dtype=torch.bool) if attention_mask is None else attention_mask[:, 1:] == 1
    logp = F.log_softmax(logits, dim=1)[:, :-1]
    nll = -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return (nll * counted).sum() / counted.sum()
