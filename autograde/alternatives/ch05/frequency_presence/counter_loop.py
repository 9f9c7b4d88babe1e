"""Counts each row's tokens with collections.Counter and subtracts both penalties token by token in
a Python loop."""

from collections import Counter


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    out = logits.clone()
    for b, row in enumerate(generated_ids.tolist()):
        for token, count in Counter(row).items():
            out[b, token] = out[b, token] - count * frequency_penalty - presence_penalty
    return out
