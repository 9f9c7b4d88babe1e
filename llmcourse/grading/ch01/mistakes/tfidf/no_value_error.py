"""a corpus without any token must raise ValueError (scikit-learn's 'empty vocabulary'), not return an empty matrix"""

import re
import numpy as np


def tfidf(documents):
    tokens = [re.findall(r"(?u)\b\w\w+\b", doc.lower()) for doc in documents]
    vocabulary = sorted({term for doc in tokens for term in doc})
    counts = np.array([[doc.count(term) for term in vocabulary] for doc in tokens], dtype=np.float64).reshape(
        len(tokens), len(vocabulary)
    )
    idf = np.log((1 + len(tokens)) / (1 + (counts > 0).sum(axis=0))) + 1
    weights = counts * idf
    norms = np.linalg.norm(weights, axis=1, keepdims=True)
    return weights / np.where(norms == 0, 1, norms), vocabulary
