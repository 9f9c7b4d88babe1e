"""Starts from an empty DynamicCache and runs every forward inside the loop, the first one on the
prompt, instead of a forward on the prompt before it."""

import torch
from transformers import DynamicCache


def generate_with_cache(model, idx, max_new_tokens):
    cache = DynamicCache()  # empty: the first forward fills it with the prompt, each later one adds a position
    inp = idx
    new = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(input_ids=inp, past_key_values=cache, use_cache=True).logits
            inp = logits[:, -1, :].argmax(dim=-1, keepdim=True)  # (B, 1): the next input is the new token alone
            new.append(inp)
    return torch.cat([idx, *new], dim=1)
