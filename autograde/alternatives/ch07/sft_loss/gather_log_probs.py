"""Picks the counted targets' log-probabilities from log_softmax with gather and returns minus
their mean, instead of calling F.cross_entropy."""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
    targets = labels[:, 1:]
    keep = targets != -100
    picked = log_probs[keep].gather(-1, targets[keep][:, None]).squeeze(-1)
    return -picked.mean()
