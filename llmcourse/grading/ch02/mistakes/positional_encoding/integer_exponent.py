"""your exponent uses integer division: 2i // d_model is 0, so every column has the same frequency; divide with /"""

import math
import torch


def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / 10000 ** ((i - i % 2) // d_model)
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe
