"""your perplexity takes the raw logits as log-probabilities: apply log_softmax over the vocabulary first"""

import math
import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = logits[:, :-1].float()  # (B, T-1, V)
    targets = input_ids[:, 1:]  # (B, T-1)
    mask = attention_mask[:, 1:].bool()  # (B, T-1)
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return math.exp(nll[mask].mean().item())
