"""your accuracy multiplies the log-likelihood by the length: normalising divides by it, so that a long choice is not punished for having more tokens"""


def accuracy(items):
    right = {"acc": 0, "acc_norm": 0, "acc_bytes": 0}
    for scores, choices, gold in items:
        chars = [s * len(c) for s, c in zip(scores, choices)]
        utf8 = [s * len(c.encode("utf-8")) for s, c in zip(scores, choices)]
        right["acc"] += scores.index(max(scores)) == gold  # index() finds the first maximum
        right["acc_norm"] += chars.index(max(chars)) == gold
        right["acc_bytes"] += utf8.index(max(utf8)) == gold
    return {key: count / len(items) for key, count in right.items()}
