"""One forward pass per token of a choice, over the context and the choice's earlier tokens, each log-probability as the logit minus the logsumexp."""

import math
import torch


def score_choices(logits_fn, context_ids, choice_ids):
    scores = []
    for choice in choice_ids:
        total = 0.0
        for k, token in enumerate(choice):
            prefix = torch.tensor([list(context_ids) + list(choice[:k])])  # (1, n + k)
            with torch.no_grad():
                last = logits_fn(prefix)[0, -1].double()  # (V,): the next token's logits
            total += (last[token] - torch.logsumexp(last, dim=0)).item()
        scores.append(total)
    return scores
