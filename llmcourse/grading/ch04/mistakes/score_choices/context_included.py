"""your score_choices also sums the log-probabilities of the context's tokens: a choice's score counts only its own tokens (the context is the same for every choice, but its tokens are not the choice's)"""

import torch
import torch.nn.functional as F


def score_choices(logits_fn, context_ids, choice_ids):
    n = len(context_ids)
    scores = []
    for choice in choice_ids:
        ids = torch.tensor([context_ids + choice])  # (1, T)
        log_probs = F.log_softmax(logits_fn(ids)[0].float(), dim=-1)  # (T, V)
        targets = ids[0, 1:]  # every predicted token
        picked = log_probs[:-1].gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # position t-1 predicts token t
        scores.append(picked.sum().item())
    return scores
