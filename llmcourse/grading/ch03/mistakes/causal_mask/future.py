"""your mask is True above the diagonal: each token would see the tokens after it (the future) and not those before it. Use the lower triangle (torch.tril)"""

import torch


def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).triu()
