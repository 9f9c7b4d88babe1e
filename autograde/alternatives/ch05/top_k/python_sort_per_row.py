"""Finds each row's k-th largest logit by sorting the row as a Python list and masks the row in a
loop, also refusing a k that is not an int."""


def top_k_filter(logits, k):
    if not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k}")
    out = logits.clone()
    for b in range(logits.shape[0]):
        row = logits[b]
        kth = sorted(row.tolist(), reverse=True)[min(k, len(row)) - 1]
        out[b][row < kth] = float("-inf")
    return out
