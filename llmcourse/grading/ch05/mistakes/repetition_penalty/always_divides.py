"""your repetition penalty divides every seen logit by the penalty; a negative logit divided by 1.3 gets larger (more likely): multiply negative logits, divide positive ones"""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.gather(logits, 1, generated_ids)
    return logits.scatter(1, generated_ids, seen / penalty)
