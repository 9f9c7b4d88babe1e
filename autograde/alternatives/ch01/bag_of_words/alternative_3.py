"""Valid alternative 3 of bag_of_words."""

import re
import numpy as np


def bag_of_words(documents):
    per_document = []
    for document in documents:
        counts = {}
        for token in re.findall(r"(?u)\b\w\w+\b", document.lower()):
            counts[token] = counts.get(token, 0) + 1
        per_document.append(counts)
    vocabulary = sorted({term for counts in per_document for term in counts})
    if not vocabulary:
        raise ValueError("empty vocabulary")
    matrix = np.zeros((len(per_document), len(vocabulary)))
    for i, counts in enumerate(per_document):
        for j, term in enumerate(vocabulary):
            matrix[i, j] = counts.get(term, 0)
    return matrix, vocabulary
