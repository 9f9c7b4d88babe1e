"""The valid alternatives of chapter 01_history's graded exercises (``llmcourse.grading.ch01``):
complete correct answers written differently from the solution, by the exercise's key in that
chapter's ``EXERCISES``.

The mutation suite (``make mutants``) grades each one and requires full marks; the class report
flags answers that are near-copies of them (``llmcourse.grading.similarity.course_code``); the
tests use them as known good answers. They live here, on the instructor's side, and not in
``llmcourse/grading/ch01.py``: that module is what the student's notebook imports, and
``autograde/`` is not part of the installed package. Read with
``llmcourse.grading.alternatives.alternatives_of`` (parsed, never run).
"""

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "bag_of_words": (
        r'''import re
from collections import Counter
import numpy as np

def bag_of_words(documents):
    counters = [Counter(re.findall(r"(?u)\b\w\w+\b", doc.lower())) for doc in documents]
    vocabulary = sorted(set().union(*counters))
    if len(vocabulary) == 0:
        raise ValueError("empty vocabulary")
    rows = [[counter[term] for term in vocabulary] for counter in counters]
    return np.array(rows, dtype=np.float64), vocabulary
''',
        r'''import re
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
''',
        r'''import re
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
''',
    ),
    "tfidf": (
        r'''import numpy as np

def tfidf(documents):
    counts, vocabulary = bag_of_words(documents)
    n_documents = len(documents)
    document_frequency = np.count_nonzero(counts, axis=0)
    idf = np.log((1 + n_documents) / (1 + document_frequency)) + 1
    weights = counts * idf
    with np.errstate(invalid="ignore"):
        weights = weights / np.sqrt((weights ** 2).sum(axis=1))[:, None]
    return np.nan_to_num(weights), vocabulary
''',
        r'''import math
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
''',
    ),
}
