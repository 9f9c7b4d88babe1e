"""your repetition penalty penalises every row for the tokens of the first row of generated_ids; each row is penalised for the tokens of its own row"""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    out = logits.clone()
    seen = generated_ids[0]
    values = out[:, seen]
    out[:, seen] = torch.where(values > 0, values / penalty, values * penalty)
    return out
