"""your perplexity returns the mean negative log-likelihood (the cross-entropy): perplexity is its exponential"""

import math
import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V)
    targets = input_ids[:, 1:]  # (B, T-1)
    mask = attention_mask[:, 1:].bool()  # (B, T-1)
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return nll[mask].mean().item()
