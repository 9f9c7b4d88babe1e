"""your score_choices extends the context list itself (ids = context_ids; ids += choice changes context_ids): every later choice is scored after the earlier choices; build a new list, context_ids + choice"""

import torch
import torch.nn.functional as F


def score_choices(logits_fn, context_ids, choice_ids):
    n = len(context_ids)
    scores = []
    for choice in choice_ids:
        tokens = context_ids
        tokens += choice
        ids = torch.tensor([tokens])  # (1, T)
        log_probs = F.log_softmax(logits_fn(ids)[0].float(), dim=-1)  # (T, V)
        targets = ids[0, n:]  # the choice's tokens
        picked = log_probs[n - 1 : -1].gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # position t-1 predicts token t
        scores.append(picked.sum().item())
    return scores
