"""your repetition penalty subtracts the penalty from the logits; the CTRL penalty is multiplicative: divide positive logits by it, multiply negative ones"""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, generated_ids, True)
    return torch.where(seen, logits - penalty, logits)
