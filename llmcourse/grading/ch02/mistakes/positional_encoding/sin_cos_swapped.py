"""your even columns hold cosines and odd columns sines: swap them"""

import math
import torch


def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / 10000 ** ((i - i % 2) / d_model)
            pe[pos, i] = math.cos(angle) if i % 2 == 0 else math.sin(angle)
    return pe
