"""your greedy decoding keeps generating real tokens after a sequence's end token; once a sequence has produced eos_token_id, it gets pad_token_id at every later step"""

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
            ids = torch.cat([ids, next_tok[:, None]], dim=1)
            if eos_token_id is not None and finished.all():
                break
    return ids
