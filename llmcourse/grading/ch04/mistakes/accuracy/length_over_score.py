"""your accuracy divides the length by the log-likelihood: the normalised score is the log-likelihood divided by the length"""


def accuracy(items):
    right = {"acc": 0, "acc_norm": 0, "acc_bytes": 0}
    for scores, choices, gold in items:
        chars = [len(c) / s for s, c in zip(scores, choices)]
        utf8 = [len(c.encode("utf-8")) / s for s, c in zip(scores, choices)]
        right["acc"] += scores.index(max(scores)) == gold  # index() finds the first maximum
        right["acc_norm"] += chars.index(max(chars)) == gold
        right["acc_bytes"] += utf8.index(max(utf8)) == gold
    return {key: count / len(items) for key, count in right.items()}
