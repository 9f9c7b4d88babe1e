r"""you match \w in ASCII mode (re.ASCII or (?a)), so 'café' loses its 'é': \w must match Unicode letters (the default for str patterns)"""

import re
import numpy as np


def bag_of_words(documents):
    tokens = [re.findall(r"(?a)\b\w\w+\b", doc.lower()) for doc in documents]
    vocabulary = sorted({term for doc in tokens for term in doc})
    if not vocabulary:
        raise ValueError("empty vocabulary")
    column = {term: j for j, term in enumerate(vocabulary)}
    counts = np.zeros((len(documents), len(vocabulary)), dtype=np.float64)
    for i, doc in enumerate(tokens):
        for term in doc:
            counts[i, column[term]] += 1
    return counts, vocabulary
