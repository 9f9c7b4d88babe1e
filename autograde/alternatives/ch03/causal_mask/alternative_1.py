"""Valid alternative 1 of causal_mask."""

import torch


def causal_mask(T):
    i = torch.arange(T)
    return i[:, None] >= i[None, :]
