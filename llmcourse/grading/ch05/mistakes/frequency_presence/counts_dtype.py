"""your penalties scatter_add integer ones (torch.ones_like(generated_ids) is long) into float counts; give the ones the logits' dtype (dtype=logits.dtype)"""

import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):

    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids))
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
