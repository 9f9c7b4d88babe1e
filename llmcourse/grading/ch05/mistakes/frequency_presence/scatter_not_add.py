"""your frequency penalty does not grow with the count (scatter_ writes 1 for a token however often it occurs, or the two penalties are swapped); count with scatter_add_ (or bincount) and multiply by frequency_penalty"""

import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):

    counts = torch.zeros_like(logits)
    counts.scatter_(1, generated_ids, 1.0)
    present = (counts > 0).float()
    return logits - counts * frequency_penalty - present * presence_penalty
