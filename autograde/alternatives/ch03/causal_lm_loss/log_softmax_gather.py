"""Picks each target's log-probability with log_softmax and gather (in float32) and averages them
weighted by the targets' attention mask, without F.cross_entropy."""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):

    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V)
    picked = log_probs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # (B, T-1)
    weight = torch.ones_like(picked) if attention_mask is None else attention_mask[:, 1:].to(picked.dtype)
    return -(picked * weight).sum() / weight.sum()
