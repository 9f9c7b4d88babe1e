"""Valid alternative 2 of tfidf."""

import math
import re
import numpy as np


def tfidf(documents):
    tokenized = [re.findall(r"(?u)\b\w\w+\b", d.lower()) for d in documents]
    vocabulary = sorted({t for doc in tokenized for t in doc})
    if not vocabulary:
        raise ValueError("empty vocabulary")
    n = len(documents)
    idf = {t: math.log((1 + n) / (1 + sum(t in doc for doc in tokenized))) + 1 for t in vocabulary}
    rows = []
    for doc in tokenized:
        row = [doc.count(t) * idf[t] for t in vocabulary]
        length = math.sqrt(sum(x * x for x in row))
        rows.append([x / length if length else 0.0 for x in row])
    return np.array(rows, dtype=np.float64), vocabulary
