"""F.nll_loss expects log-probabilities: apply log_softmax to the logits first"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):
    labels = input_ids[:, 1:]
    counted = torch.ones_like(labels, dtype=torch.bool) if attention_mask is None else attention_mask[:, 1:] == 1
    nll = F.nll_loss(logits[:, :-1].transpose(1, 2), labels, reduction="none")
    return (nll * counted).sum() / counted.sum()
