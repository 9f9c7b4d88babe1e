"""Marks the seen tokens in a boolean (B, V) mask and penalises every logit, keeping the penalised
value only where the mask is set, instead of gathering and scattering the seen logits."""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.zeros_like(logits, dtype=torch.bool)
    seen.scatter_(1, generated_ids, True)  # (B, V)
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)
