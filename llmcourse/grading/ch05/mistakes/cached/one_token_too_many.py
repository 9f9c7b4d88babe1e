"""your generate_with_cache appends the prompt's token and then max_new_tokens more: max_new_tokens + 1 new tokens; the loop after the first token runs max_new_tokens - 1 times"""

import torch


def generate_with_cache(model, idx, max_new_tokens):
    with torch.no_grad():
        out = model(input_ids=idx, use_cache=True)
        next_tok = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        ids = torch.cat([idx, next_tok], dim=1)
        for _ in range(max_new_tokens):
            out = model(input_ids=next_tok, past_key_values=out.past_key_values, use_cache=True)
            next_tok = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_tok], dim=1)
    return ids
