"""Counts the tokens with one_hot(...).sum(dim=1) instead of scatter_add, and their presence with
counts.clamp(max=1)."""

import torch
import torch.nn.functional as F


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    V = logits.shape[-1]
    counts = F.one_hot(generated_ids, V).sum(dim=1).to(logits.dtype)  # (B, V)
    penalty = frequency_penalty * counts + presence_penalty * counts.clamp(max=1)
    return logits - penalty
