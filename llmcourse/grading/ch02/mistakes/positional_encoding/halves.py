"""you put all sines first and all cosines after; they alternate column by column"""

import torch


def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    return torch.cat([torch.sin(angles), torch.cos(angles[:, : d_model // 2])], dim=1)
