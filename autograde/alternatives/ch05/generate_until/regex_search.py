"""Searches every stop string at once with one regular expression over the text of the new tokens,
kept as a Python list."""

import re
import torch
from llmcourse.models import logits_fn


def generate_until(model, tokenizer, prompt, stop, max_new_tokens, next_token=None):
    stops = [stop] if isinstance(stop, str) else stop
    pattern = re.compile("|".join(re.escape(s) for s in stops))
    logits_of = logits_fn(model)
    prompt_ids = tokenizer(prompt)["input_ids"]
    new_ids = []
    for _ in range(max_new_tokens):
        ids = torch.tensor([prompt_ids + new_ids])
        with torch.no_grad():
            logits = logits_of(ids)[:, -1, :]
        choice = next_token(logits, ids) if next_token else logits.argmax(-1)
        token = int(choice[0])
        if token == tokenizer.eos_token_id:
            break
        new_ids.append(token)
        match = pattern.search(tokenizer.decode(new_ids))
        if match:
            return tokenizer.decode(new_ids)[: match.start()]
    return tokenizer.decode(new_ids)
