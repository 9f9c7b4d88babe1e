"""you return an additive mask (0 where allowed, -inf where blocked), the form that is added to the scores; here the mask is boolean, True = may attend"""

import torch


def causal_mask(T):
    return torch.zeros(T, T).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
