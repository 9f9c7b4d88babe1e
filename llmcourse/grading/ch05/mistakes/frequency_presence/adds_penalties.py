"""your penalties are added to the logits, which makes repeated tokens more likely; the OpenAI API subtracts them"""

import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):

    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits + counts * frequency_penalty + (counts > 0).float() * presence_penalty
