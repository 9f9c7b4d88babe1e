"""Scores every choice in one forward pass of a padded batch, the choice's tokens read with F.cross_entropy in float64."""

import torch
import torch.nn.functional as F


def score_choices(logits_fn, context_ids, choice_ids):
    n = len(context_ids)
    rows = [list(context_ids) + list(choice) for choice in choice_ids]
    T = max(len(row) for row in rows)
    padded = torch.tensor([row + [0] * (T - len(row)) for row in rows])  # (K, T): padding after every scored token
    with torch.no_grad():
        logits = logits_fn(padded)  # (K, T, V)
    scores = []
    for k, row in enumerate(rows):
        targets = padded[k, n : len(row)]  # (m,): the choice's tokens
        nll = F.cross_entropy(logits[k, n - 1 : len(row) - 1].double(), targets, reduction="sum")
        scores.append(-nll.item())
    return scores
