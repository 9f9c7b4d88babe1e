"""your greedy decoding picks the next token from the logits of the first position; the next token is predicted by the last position, logits[:, -1, :]"""

import torch
from llmcourse.models import logits_fn


def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    logits_of = logits_fn(model)
    ids = input_ids
    finished = torch.zeros(ids.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_tok = logits_of(ids)[:, 0, :].argmax(dim=-1)
            if eos_token_id is not None:
                next_tok[finished] = pad_token_id
                finished = finished | (next_tok == eos_token_id)
            ids = torch.cat([ids, next_tok[:, None]], dim=1)
            if eos_token_id is not None and finished.all():
                break
    return ids
