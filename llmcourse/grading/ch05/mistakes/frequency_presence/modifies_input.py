"""your penalties change the caller's logits in place; return a new tensor and leave the input unchanged"""

from collections import Counter


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    for b, row in enumerate(generated_ids.tolist()):
        for token, count in Counter(row).items():
            logits[b, token] -= count * frequency_penalty + presence_penalty
    return logits
