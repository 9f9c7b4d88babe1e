"""Sorts least likely first, as Hugging Face does, and removes the tokens whose running total stays
at or below 1 - p."""

import torch


def top_p_filter(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1)  # least likely first, as Hugging Face does
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= 1 - p
    remove[:, -1] = False
    return logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
