"""Computes every position's loss with nn.CrossEntropyLoss(reduction="none") and averages those
whose target is a token, selected by boolean indexing."""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):

    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
    B, T, V = logits.shape
    per_token = loss_fn(logits[:, :-1].reshape(-1, V), input_ids[:, 1:].reshape(-1)).view(B, T - 1)
    if attention_mask is None:
        return per_token.mean()
    keep = attention_mask[:, 1:].bool()
    return per_token[keep].mean()
