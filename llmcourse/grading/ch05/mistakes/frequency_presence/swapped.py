"""your penalties are swapped: the frequency penalty is multiplied by the count, the presence penalty is paid once per token that occurs"""

import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):

    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits - counts * presence_penalty - (counts > 0).float() * frequency_penalty
