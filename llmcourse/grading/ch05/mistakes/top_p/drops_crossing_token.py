"""your top-p drops the token whose probability makes the total cross p; keep it (the kept set is the smallest whose probabilities add up to at least p)"""

import torch


def top_p_filter(logits, p):
    if p < 0 or p > 1:
        raise ValueError("p must be in [0, 1]")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative > p
    remove_sorted[:, 0] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
