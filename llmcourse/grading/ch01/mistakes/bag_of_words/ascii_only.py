r"""your token pattern only knows the letters a-z: digits, Unicode letters ('é', '東') and '_' are word characters too (\w)"""

import re
import numpy as np


def bag_of_words(documents):
    tokens = [re.findall(r"[a-z]{2,}", doc.lower()) for doc in documents]
    vocabulary = sorted({term for doc in tokens for term in doc})
    if not vocabulary:
        raise ValueError("empty vocabulary")
    column = {term: j for j, term in enumerate(vocabulary)}
    counts = np.zeros((len(documents), len(vocabulary)), dtype=np.float64)
    for i, doc in enumerate(tokens):
        for term in doc:
            counts[i, column[term]] += 1
    return counts, vocabulary
