"""your top-p sorts in ascending order, as Hugging Face does, but removes the tokens whose running total goes above 1 - p, the most likely ones; remove those whose ascending total stays at or below 1 - p"""

import torch


def top_p_filter(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove = cumulative > 1 - p
    remove[:, -1] = False
    return logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
