"""your mask has an integer dtype (int64, from torch.ones(..., dtype=torch.long)): return dtype=torch.bool"""

import torch


def causal_mask(T):
    return torch.ones(T, T, dtype=torch.long).tril()
