"""your presence penalty only applies to tokens that occur more than once; any token that occurs at all (count > 0) pays it once"""

import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):

    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits - counts * frequency_penalty - (counts > 1).to(logits.dtype) * presence_penalty
