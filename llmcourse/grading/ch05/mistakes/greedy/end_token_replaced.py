"""your greedy decoding marks a sequence finished before padding, so its end token itself becomes pad_token_id; keep the end token, pad only from the next step on"""

import torch
from llmcourse.models import logits_fn


def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    logits_of = logits_fn(model)
    ids = input_ids
    finished = torch.zeros(ids.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_tok = logits_of(ids)[:, -1, :].argmax(dim=-1)
            if eos_token_id is not None:
                finished = finished | (next_tok == eos_token_id)
                next_tok[finished] = pad_token_id
            ids = torch.cat([ids, next_tok[:, None]], dim=1)
            if eos_token_id is not None and finished.all():
                break
    return ids
