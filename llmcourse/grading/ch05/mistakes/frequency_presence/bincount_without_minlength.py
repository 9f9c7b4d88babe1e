"""your penalties count with torch.bincount without minlength, so the counts are only as long as the largest token id, not (V,); pass minlength=V"""

import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):

    counts = torch.stack([torch.bincount(row) for row in generated_ids]).to(logits.dtype)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
