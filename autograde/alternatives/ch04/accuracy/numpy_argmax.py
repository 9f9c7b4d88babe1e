"""Each metric collected as a list of right/wrong flags from numpy's argmax over the (normalised) log-likelihoods, then averaged with np.mean."""

import numpy as np


def accuracy(items):
    acc, acc_norm, acc_bytes = [], [], []
    for lls, choices, gold in items:
        lls = np.array(lls, dtype=float)
        chars = np.array([len(c) for c in choices], dtype=float)
        utf8 = np.array([len(c.encode("utf-8")) for c in choices], dtype=float)
        acc.append(np.argmax(lls) == gold)
        acc_norm.append(np.argmax(lls / chars) == gold)
        acc_bytes.append(np.argmax(lls / utf8) == gold)
    return {"acc": float(np.mean(acc)), "acc_norm": float(np.mean(acc_norm)), "acc_bytes": float(np.mean(acc_bytes))}
