"""you do not lower-case the documents: 'The' and 'the' must be one term"""

import re
import numpy as np


def bag_of_words(documents):
    tokens = [re.findall(r"(?u)\b\w\w+\b", doc) for doc in documents]
    vocabulary = sorted({term for doc in tokens for term in doc})
    if not vocabulary:
        raise ValueError("empty vocabulary")
    column = {term: j for j, term in enumerate(vocabulary)}
    counts = np.zeros((len(documents), len(vocabulary)), dtype=np.float64)
    for i, doc in enumerate(tokens):
        for term in doc:
            counts[i, column[term]] += 1
    return counts, vocabulary
