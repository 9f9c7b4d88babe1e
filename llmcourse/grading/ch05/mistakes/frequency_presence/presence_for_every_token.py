"""your presence penalty is subtracted from every token (counts >= 0 is always true); only tokens that occur at least once (count > 0) pay it"""

import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):

    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits - counts * frequency_penalty - (counts >= 0).to(logits.dtype) * presence_penalty
