"""your generate_until only checks whether the text ends with the stop string; a token can carry the end of the stop string and more text: search the whole generated text"""

import torch
from llmcourse.models import logits_fn


def generate_until(model, tokenizer, prompt, stop, max_new_tokens, next_token=None):
    stops = [stop] if isinstance(stop, str) else list(stop)
    logits_of = logits_fn(model)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    n_prompt = ids.shape[1]
    text = ""
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = logits_of(ids)[:, -1, :]
        tok = logits.argmax(dim=-1) if next_token is None else next_token(logits, ids)
        if tok.item() == tokenizer.eos_token_id:
            break
        ids = torch.cat([ids, tok.view(1, 1)], dim=1)
        text = tokenizer.decode(ids[0, n_prompt:])
        for s in stops:
            if text.endswith(s):
                return text[: -len(s)]
    return text
