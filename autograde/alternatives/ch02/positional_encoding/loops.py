"""Fills the table entry by entry with math.sin and math.cos in two Python loops, instead of whole
columns at once."""

import math
import torch


def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / (10000 ** ((i - i % 2) / d_model))
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe
