"""your temperature returns log-probabilities (log_softmax of the scaled logits); return the scaled logits themselves, logits / T"""

import torch


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return torch.log_softmax(logits / temperature, dim=-1)
