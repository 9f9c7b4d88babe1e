"""your repetition penalty raises an error for a penalty below 1; it is valid (it makes repetition more likely) and uses the same rule"""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    if penalty < 1:
        raise ValueError("penalty must be >= 1")
    seen = torch.gather(logits, 1, generated_ids)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(1, generated_ids, seen)
