"""Keeps the most likely tokens one at a time in a Python loop until their probabilities add up to
p, instead of masking a sorted running total."""

import torch


def top_p_filter(logits, p):
    if not 0 <= p <= 1:
        raise ValueError(f"top_p must be between 0 and 1, got {p}")
    if p >= 1:
        return logits.clone()
    probs = torch.softmax(logits, dim=-1)
    out = torch.full_like(logits, float("-inf"))
    for b in range(logits.shape[0]):
        total = 0.0
        for i in torch.argsort(probs[b], descending=True).tolist():
            out[b, i] = logits[b, i]
            total += probs[b, i].item()
            if total >= p:
                break
    return out
