"""A separate tokenize function and the whole LCS table kept in memory, instead of one row at a time."""

import re


def tokenize(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def rouge_l(prediction, reference):
    pred, ref = tokenize(prediction), tokenize(reference)
    if not pred or not ref:
        return 0.0, 0.0, 0.0
    length = lcs(pred, ref)
    precision, recall = length / len(pred), length / len(ref)
    f = 0.0 if length == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f
