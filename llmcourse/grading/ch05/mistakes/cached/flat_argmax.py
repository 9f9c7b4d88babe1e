"""your generate_with_cache takes argmax() over the whole (B, V) logits, one token for the batch; take it per row, argmax(dim=-1, keepdim=True) gives (B, 1)"""

import torch


def generate_with_cache(model, idx, max_new_tokens):
    ids = idx
    if max_new_tokens == 0:
        return ids
    with torch.no_grad():
        out = model(input_ids=idx, use_cache=True)
        for step in range(max_new_tokens):
            next_tok = out.logits[:, -1, :].argmax().view(1, 1)
            ids = torch.cat([ids, next_tok], dim=1)
            if step + 1 < max_new_tokens:
                out = model(input_ids=next_tok, past_key_values=out.past_key_values, use_cache=True)
    return ids
