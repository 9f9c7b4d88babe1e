"""Valid alternative 1 of tfidf."""

import numpy as np


def tfidf(documents):
    counts, vocabulary = bag_of_words(documents)
    n_documents = len(documents)
    document_frequency = np.count_nonzero(counts, axis=0)
    idf = np.log((1 + n_documents) / (1 + document_frequency)) + 1
    weights = counts * idf
    with np.errstate(invalid="ignore"):
        weights = weights / np.sqrt((weights**2).sum(axis=1))[:, None]
    return np.nan_to_num(weights), vocabulary
