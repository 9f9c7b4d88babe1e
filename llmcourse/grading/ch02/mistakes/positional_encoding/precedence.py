"""10000 ** two_i / d_model is (10000 ** two_i) / d_model: the exponent needs parentheses, 10000 ** (two_i / d_model)"""

import torch


def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angles = pos / (10000**two_i / d_model)
    pe = torch.zeros(num_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
