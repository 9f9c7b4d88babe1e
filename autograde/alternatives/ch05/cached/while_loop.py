"""Loops while the sequence is shorter than the prompt plus max_new_tokens, feeding the whole
prompt while there is no cache yet and the last token after that."""

import torch


@torch.no_grad()
def generate_with_cache(model, idx, max_new_tokens):
    ids = idx.clone()
    past = None
    while ids.shape[1] < idx.shape[1] + max_new_tokens:
        out = model(ids if past is None else ids[:, -1:], past_key_values=past, use_cache=True)
        past = out.past_key_values
        ids = torch.cat([ids, out.logits[:, -1].argmax(-1)[:, None]], dim=1)
    return ids
