"""your repetition penalty returns only the penalised logits of the seen tokens, (B, t); write them back into a copy of all the logits (scatter) and return (B, V)"""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.gather(logits, 1, generated_ids)
    return torch.where(seen > 0, seen / penalty, seen * penalty)
