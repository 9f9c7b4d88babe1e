"""Loops over every row and position in Python, skipping padded targets, with log_softmax in float64 one position at a time."""

import math
import torch


def perplexity(logits, input_ids, attention_mask=None):
    B, T, V = logits.shape
    total, count = 0.0, 0
    for b in range(B):
        for t in range(T - 1):
            if attention_mask is not None and attention_mask[b, t + 1] == 0:
                continue
            log_probs = torch.log_softmax(logits[b, t].double(), dim=-1)
            total -= log_probs[input_ids[b, t + 1]].item()
            count += 1
    return math.exp(total / count)
