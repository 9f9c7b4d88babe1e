"""your score_choices returns a torch.Tensor: it must return a list of Python floats, one per choice (.tolist(), or .item() on each score)"""

import torch
import torch.nn.functional as F


def score_choices(logits_fn, context_ids, choice_ids):
    n = len(context_ids)
    scores = []
    for choice in choice_ids:
        ids = torch.tensor([context_ids + choice])  # (1, T)
        log_probs = F.log_softmax(logits_fn(ids)[0].float(), dim=-1)  # (T, V)
        targets = ids[0, n:]  # the choice's tokens
        picked = log_probs[n - 1 : -1].gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # position t-1 predicts token t
        scores.append(picked.sum().item())
    return torch.tensor(scores)
