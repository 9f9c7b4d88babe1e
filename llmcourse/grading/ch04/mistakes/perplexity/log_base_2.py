"""your perplexity takes log base 2 of the probabilities (bits) but then exponentiates with e: use 2 ** bits, or natural logs with exp"""

import math
import torch


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    probs = torch.softmax(logits[:, :-1].float(), dim=-1)
    p_target = probs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    nll = -torch.log2(p_target)
    mask = attention_mask[:, 1:].bool()
    return math.exp(nll[mask].mean().item())
