"""your score_choices reads each choice token's log-probability at the token's own position: the logits at position t predict the token at t + 1, so the choice's tokens n .. T-1 are read at positions n-1 .. T-2"""

import torch
import torch.nn.functional as F


def score_choices(logits_fn, context_ids, choice_ids):
    n = len(context_ids)
    scores = []
    for choice in choice_ids:
        ids = torch.tensor([context_ids + choice])  # (1, T)
        log_probs = F.log_softmax(logits_fn(ids)[0].float(), dim=-1)  # (T, V)
        targets = ids[0, n:]  # the choice's tokens
        picked = log_probs[n:].gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # position t-1 predicts token t
        scores.append(picked.sum().item())
    return scores
