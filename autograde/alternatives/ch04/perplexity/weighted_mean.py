"""Gathers the targets' log-probabilities and weights them by the shifted attention mask, dividing the weighted sum by the mask's sum."""

import torch


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = logits.log_softmax(-1)[:, :-1]
    token_log_probs = log_probs.gather(2, input_ids[:, 1:, None])[..., 0]
    weights = attention_mask[:, 1:].to(log_probs.dtype)
    return torch.exp(-(token_log_probs * weights).sum() / weights.sum()).item()
