"""your ROUGE-N's f-measure is the arithmetic mean of precision and recall: it is their harmonic mean 2PR/(P+R)"""

import re
from collections import Counter


def tokenize(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def rouge_n(prediction, reference, n):
    pred, ref = tokenize(prediction), tokenize(reference)
    pred_ngrams = Counter(tuple(pred[i : i + n]) for i in range(len(pred) - n + 1))
    ref_ngrams = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
    overlap = sum((pred_ngrams & ref_ngrams).values())
    precision = overlap / max(sum(pred_ngrams.values()), 1)
    recall = overlap / max(sum(ref_ngrams.values()), 1)
    f = (precision + recall) / 2
    return precision, recall, f
