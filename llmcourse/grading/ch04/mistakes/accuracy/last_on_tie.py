"""your accuracy picks the last of two equally likely choices: on a tie the first one is the prediction (as numpy's argmax, and lm-evaluation-harness, pick it)"""


def last_best(values):
    best = 0
    for k in range(len(values)):
        if values[k] >= values[best]:
            best = k
    return best


def accuracy(items):
    right = {"acc": 0, "acc_norm": 0, "acc_bytes": 0}
    for scores, choices, gold in items:
        chars = [s / len(c) for s, c in zip(scores, choices)]
        utf8 = [s / len(c.encode("utf-8")) for s, c in zip(scores, choices)]
        right["acc"] += last_best(scores) == gold
        right["acc_norm"] += last_best(chars) == gold
        right["acc_bytes"] += last_best(utf8) == gold
    return {key: count / len(items) for key, count in right.items()}
