"""Negates the strict upper triangle (triu(diagonal=1)) instead of keeping the lower triangle."""

import torch


def causal_mask(T):
    return ~torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
