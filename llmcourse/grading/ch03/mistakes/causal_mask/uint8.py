"""your mask has dtype uint8 (the masks of old PyTorch versions): return dtype=torch.bool"""

import torch


def causal_mask(T):
    return torch.tril(torch.ones(T, T, dtype=torch.uint8))
