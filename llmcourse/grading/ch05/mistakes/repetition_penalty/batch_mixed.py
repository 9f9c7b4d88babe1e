"""your repetition penalty penalises, in every row, the tokens seen in any row of the batch; each sequence is penalised for its own tokens only"""

import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    out = logits.clone()
    for token in set(generated_ids.flatten().tolist()):
        column = out[:, token]
        out[:, token] = torch.where(column < 0, column * penalty, column / penalty)
    return out
