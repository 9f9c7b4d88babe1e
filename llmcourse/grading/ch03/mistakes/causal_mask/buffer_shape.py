"""your mask has shape (1, 1, T, T), as nanoGPT stores its mask buffer for (B, H, T, T) scores: return (T, T)"""

import torch


def causal_mask(T):
    return torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)
