"""your generate_with_cache runs the whole sequence through the model at every step: the right tokens, but no cache; keep out.past_key_values and give the model only the new token with it"""

import torch


def generate_with_cache(model, idx, max_new_tokens):
    ids = idx
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(input_ids=ids).logits
            next_tok = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_tok], dim=1)
    return ids
