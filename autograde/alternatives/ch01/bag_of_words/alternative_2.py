"""Valid alternative 2 of bag_of_words."""

import re
import numpy as np


def bag_of_words(documents):
    tokens = [re.findall(r"\w{2,}", doc.lower()) for doc in documents]
    flat = [t for doc in tokens for t in doc]
    if not flat:
        raise ValueError("empty vocabulary")
    vocabulary, columns = np.unique(np.array(flat), return_inverse=True)
    rows = np.repeat(np.arange(len(tokens)), [len(doc) for doc in tokens])
    counts = np.zeros((len(tokens), len(vocabulary)))
    np.add.at(counts, (rows, columns), 1)
    return counts, vocabulary.tolist()
