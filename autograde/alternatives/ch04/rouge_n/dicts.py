"""Counts the n-grams in plain dicts of a nested function, words from replacing each run of characters other than a-z and 0-9 with a space, the overlap summed over the reference's n-grams."""

import re


def rouge_n(prediction, reference, n):
    def ngrams(text):
        words = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
        counts = {}
        for i in range(len(words) - n + 1):
            counts[tuple(words[i : i + n])] = counts.get(tuple(words[i : i + n]), 0) + 1
        return counts

    pred, ref = ngrams(prediction), ngrams(reference)
    overlap = sum(min(c, pred.get(g, 0)) for g, c in ref.items())
    n_pred, n_ref = sum(pred.values()), sum(ref.values())
    precision = overlap / n_pred if n_pred else 0.0
    recall = overlap / n_ref if n_ref else 0.0
    if precision + recall == 0:
        return precision, recall, 0.0
    return precision, recall, 2 * precision * recall / (precision + recall)
