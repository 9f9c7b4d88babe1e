"""your temperature replaces -inf logits by a large finite number (nan_to_num); a token removed by an earlier filter must stay -inf"""

import torch


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return torch.nan_to_num(logits / temperature)
