"""your accuracy picks the choice with the lowest score: the scores are log-likelihoods (higher is likelier), not losses; pick the highest"""


def accuracy(items):
    right = {"acc": 0, "acc_norm": 0, "acc_bytes": 0}
    for scores, choices, gold in items:
        chars = [s / len(c) for s, c in zip(scores, choices)]
        utf8 = [s / len(c.encode("utf-8")) for s, c in zip(scores, choices)]
        right["acc"] += scores.index(min(scores)) == gold  # index() finds the first maximum
        right["acc_norm"] += chars.index(min(chars)) == gold
        right["acc_bytes"] += utf8.index(min(utf8)) == gold
    return {key: count / len(items) for key, count in right.items()}
