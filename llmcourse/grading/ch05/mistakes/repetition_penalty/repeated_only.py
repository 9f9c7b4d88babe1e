"""your repetition penalty only penalises tokens that occur more than once; every token that occurs in generated_ids at all is penalised (once)"""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(counts > 1, penalised, logits)
