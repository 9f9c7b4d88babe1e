"""Compares row and column indices (i >= j) by broadcasting torch.arange instead of taking the lower
triangle of a tensor of ones."""

import torch


def causal_mask(T):
    i = torch.arange(T)
    return i[:, None] >= i[None, :]
