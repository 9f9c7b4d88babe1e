"""your temperature returns probabilities (the softmax of the scaled logits); return the scaled logits: the sampler applies the softmax after all the processors"""

import torch
import torch.nn.functional as F


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return F.softmax(logits / temperature, dim=-1)
