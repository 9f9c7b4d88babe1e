"""One helper picks the best choice after dividing by a length, given lengths of 1 for acc, characters for acc_norm and bytes(c, "utf-8") for acc_bytes."""


def best(scores, lengths):
    return max(range(len(scores)), key=lambda k: scores[k] / lengths[k])


def accuracy(items):
    totals = {"acc": 0.0, "acc_norm": 0.0, "acc_bytes": 0.0}
    for scores, choices, gold in items:
        totals["acc"] += best(scores, [1] * len(choices)) == gold
        totals["acc_norm"] += best(scores, [len(c) for c in choices]) == gold
        totals["acc_bytes"] += best(scores, [len(bytes(c, "utf-8")) for c in choices]) == gold
    n = len(items)
    return {name: total / n for name, total in totals.items()}
