"""your mask is a float tensor: return booleans (dtype=torch.bool, or .bool()), True = may attend"""

import torch


def causal_mask(T):
    return torch.tril(torch.ones(T, T))
