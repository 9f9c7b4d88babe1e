"""Divides each row of logits on its own and stacks the rows back into one tensor."""

import torch


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be strictly positive")
    rows = [row / temperature for row in logits]
    return torch.stack(rows)
