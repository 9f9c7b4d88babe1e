"""your temperature is applied after the softmax (it divides the probabilities); divide the logits, before the softmax, and return logits"""

import torch


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    probs = torch.softmax(logits, dim=-1)
    return probs / temperature
