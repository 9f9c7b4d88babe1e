"""Tokens from replacing each run of characters other than a-z and 0-9 with a space, and the LCS as a recursion over suffixes memoised with functools.lru_cache instead of a table."""

import re
from functools import lru_cache


def rouge_l(prediction, reference):
    pred = re.sub(r"[^a-z0-9]+", " ", prediction.lower()).split()
    ref = re.sub(r"[^a-z0-9]+", " ", reference.lower()).split()
    if len(pred) == 0 or len(ref) == 0:
        return (0.0, 0.0, 0.0)

    @lru_cache(maxsize=None)
    def lcs(i, j):  # LCS of pred[i:] and ref[j:]
        if i == len(pred) or j == len(ref):
            return 0
        if pred[i] == ref[j]:
            return 1 + lcs(i + 1, j + 1)
        return max(lcs(i + 1, j), lcs(i, j + 1))

    p = lcs(0, 0) / len(pred)
    r = lcs(0, 0) / len(ref)
    return (p, r, 2 * p * r / (p + r) if p + r > 0 else 0.0)
