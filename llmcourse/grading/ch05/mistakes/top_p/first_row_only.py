"""your top-p computes the nucleus of the first row and applies it to every row; each row of the batch has its own distribution and its own nucleus"""

import torch


def top_p_filter(logits, p):
    sorted_logits, order = torch.sort(logits[0], descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    remove_sorted = torch.cumsum(probs, dim=-1) - probs >= p
    remove_sorted[0] = False
    remove = remove_sorted.scatter(0, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
