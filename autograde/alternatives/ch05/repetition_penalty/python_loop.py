"""Penalises each distinct token of each row in a Python loop, and raises ValueError for a penalty
<= 0."""


def apply_repetition_penalty(logits, generated_ids, penalty):
    if penalty <= 0:
        raise ValueError("penalty must be positive")
    out = logits.clone()
    for b in range(logits.shape[0]):
        for token in set(generated_ids[b].tolist()):
            x = logits[b, token]
            out[b, token] = x / penalty if x > 0 else x * penalty
    return out
