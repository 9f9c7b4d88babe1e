"""your tensor holds integers (zeros_like of an integer arange): every sine and cosine is truncated; make it a float tensor"""

import torch


def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions)[:, None]
    two_i = torch.arange(0, d_model, 2)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros_like(pos).repeat(1, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
