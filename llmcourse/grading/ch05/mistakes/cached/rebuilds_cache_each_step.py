"""your generate_with_cache rebuilds the cache from the whole sequence at every step (two forwards per token, the first over everything): keep the cache the previous forward returned"""

import torch


def generate_with_cache(model, idx, max_new_tokens):
    ids = idx
    with torch.no_grad():
        for _ in range(max_new_tokens):
            past = model(input_ids=ids[:, :-1], use_cache=True).past_key_values
            logits = model(input_ids=ids[:, -1:], past_key_values=past, use_cache=True).logits
            next_tok = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_tok], dim=1)
    return ids
