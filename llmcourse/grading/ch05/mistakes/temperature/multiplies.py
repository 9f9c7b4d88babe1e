"""your temperature multiplies the logits by T; divide them (logits / T), so that T < 1 sharpens the distribution and T > 1 flattens it"""

import torch


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return logits * temperature
