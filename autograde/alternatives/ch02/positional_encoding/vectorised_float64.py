"""Computes the frequencies as exp(-2i ln(10000) / d_model) instead of a power of 10000, in
float64, and returns a float64 tensor."""

import math
import torch


def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angles = pos * torch.exp(-two_i * math.log(10000) / d_model)
    pe = torch.empty(num_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = angles.sin()
    pe[:, 1::2] = angles.cos()[:, : d_model // 2]
    return pe
