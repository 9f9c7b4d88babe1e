"""your repetition penalty only penalises the last token of each row; every token that occurs in generated_ids is penalised"""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    last = generated_ids[:, -1:]
    seen = torch.gather(logits, 1, last)
    return logits.scatter(1, last, torch.where(seen > 0, seen / penalty, seen * penalty))
