"""your repetition penalty multiplies every seen logit by the penalty, which makes a positive logit larger (more likely); divide positive logits, multiply the others"""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.gather(logits, 1, generated_ids)
    return logits.scatter(1, generated_ids, seen * penalty)
