"""Decodes each prompt on its own as a Python list and pads the shorter rows to the longest one at
the end."""

import torch
from llmcourse.models import logits_fn


def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    logits_of = logits_fn(model)
    rows = []
    for prompt in input_ids.tolist():
        seq = list(prompt)
        for _ in range(max_new_tokens):
            with torch.no_grad():
                logits = logits_of(torch.tensor([seq]))[0, -1]
            seq.append(int(logits.argmax()))
            if seq[-1] == eos_token_id:
                break
        rows.append(seq)
    longest = max(len(seq) for seq in rows)
    return torch.tensor([seq + [pad_token_id] * (longest - len(seq)) for seq in rows])
