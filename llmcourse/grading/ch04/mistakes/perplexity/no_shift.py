"""your perplexity compares logits[:, t] with input_ids[:, t] instead of input_ids[:, t+1] (no shift): the logits at position t predict the *next* token"""

import math
import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    nll = -log_probs.gather(-1, input_ids.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return math.exp(nll[attention_mask.bool()].mean().item())
