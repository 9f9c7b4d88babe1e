"""your acc picks the choice with the highest length-normalised score: acc compares the log-likelihoods themselves; only acc_norm and acc_bytes divide by a length"""


def accuracy(items):
    right = {"acc": 0, "acc_norm": 0, "acc_bytes": 0}
    for scores, choices, gold in items:
        chars = [s / len(c) for s, c in zip(scores, choices)]
        utf8 = [s / len(c.encode("utf-8")) for s, c in zip(scores, choices)]
        right["acc"] += chars.index(max(chars)) == gold  # index() finds the first maximum
        right["acc_norm"] += chars.index(max(chars)) == gold
        right["acc_bytes"] += utf8.index(max(utf8)) == gold
    return {key: count / len(items) for key, count in right.items()}
