"""Reads the choice's log-probabilities by indexing the (T, V) table with a range of positions and the tokens after them, instead of gather."""

import torch


def score_choices(logits_fn, context_ids, choice_ids):
    result = []
    for choice in choice_ids:
        ids = torch.tensor(context_ids + choice).unsqueeze(0)  # (1, T)
        log_probs = logits_fn(ids).squeeze(0).log_softmax(dim=-1)  # (T, V)
        positions = torch.arange(len(context_ids) - 1, ids.shape[1] - 1)  # each predicts the token after it
        result.append(float(log_probs[positions, ids[0, positions + 1]].sum()))
    return result
