"""your repetition penalty multiplies positive logits and divides negative ones, which makes seen tokens more likely; divide positive logits, multiply negative ones"""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.gather(logits, 1, generated_ids)
    seen = torch.where(seen > 0, seen * penalty, seen / penalty)
    return logits.scatter(1, generated_ids, seen)
