"""Valid alternative 1 of bag_of_words."""

import re
from collections import Counter
import numpy as np


def bag_of_words(documents):
    counters = [Counter(re.findall(r"(?u)\b\w\w+\b", doc.lower())) for doc in documents]
    vocabulary = sorted(set().union(*counters))
    if len(vocabulary) == 0:
        raise ValueError("empty vocabulary")
    rows = [[counter[term] for term in vocabulary] for counter in counters]
    return np.array(rows, dtype=np.float64), vocabulary
