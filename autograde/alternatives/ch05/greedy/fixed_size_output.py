"""Fills a (B, T + max_new_tokens) tensor of padding step by step, calling the model itself, and
cuts it after the last step taken."""

import torch


def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    B, T = input_ids.shape
    out = torch.full((B, T + max_new_tokens), pad_token_id, dtype=torch.long)
    out[:, :T] = input_ids
    alive = torch.ones(B, dtype=torch.bool)
    n = 0
    with torch.no_grad():
        for step in range(max_new_tokens):
            result = model(out[:, : T + step])
            logits = result[0] if isinstance(result, tuple) else result.logits
            tok = logits[:, -1, :].argmax(dim=-1)
            tok = torch.where(alive, tok, torch.full_like(tok, pad_token_id))
            out[:, T + step] = tok
            n = step + 1
            if eos_token_id is not None:
                alive = alive & (tok != eos_token_id)
                if not alive.any():
                    break
    return out[:, : T + n]
