"""your penalties count the tokens of the whole batch; each row counts its own generated tokens"""

import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):

    counts = torch.bincount(generated_ids.flatten(), minlength=logits.shape[-1]).to(logits.dtype)  # (V,)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
