"""your acc_bytes picks the highest raw log-likelihood: acc_bytes divides each one by the choice's length in UTF-8 bytes first"""


def accuracy(items):
    right = {"acc": 0, "acc_norm": 0, "acc_bytes": 0}
    for scores, choices, gold in items:
        chars = [s / len(c) for s, c in zip(scores, choices)]
        utf8 = [s / len(c.encode("utf-8")) for s, c in zip(scores, choices)]
        right["acc"] += scores.index(max(scores)) == gold  # index() finds the first maximum
        right["acc_norm"] += chars.index(max(chars)) == gold
        right["acc_bytes"] += scores.index(max(scores)) == gold
    return {key: count / len(items) for key, count in right.items()}
