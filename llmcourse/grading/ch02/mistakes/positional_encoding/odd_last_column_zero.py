"""when d_model is odd your last column stays 0: it is a sine (an odd d_model has one more sine than cosine)"""

import torch


def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model - 1, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0 : 2 * angles.shape[1] : 2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
