"""your mask is True everywhere: nothing is masked, so a token sees the tokens after it; keep the lower triangle (torch.tril)"""

import torch


def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool)
