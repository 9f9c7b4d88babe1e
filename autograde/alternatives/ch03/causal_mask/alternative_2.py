"""Valid alternative 2 of causal_mask."""

import torch


def causal_mask(T):
    return ~torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
