"""Student-side runners of chapter 01 (from counting words to transformers): see
:mod:`llmcourse.grading.runners`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def run_vectorizer(fn: Callable[[list[str]], Any], inputs: tuple[list[str], bool]) -> Any:
    """``bag_of_words`` or ``tfidf`` on a corpus: ``(matrix, vocabulary)``. On a corpus without
    any token (``refuses``) the answer must raise ValueError, as scikit-learn does: then
    ``{"raised": "ValueError"}``, else ``{"returned": result}``."""
    documents, refuses = inputs
    documents = list(documents)
    if refuses:  # scikit-learn raises ValueError here: so must the answer
        try:
            result = fn(documents)
        except ValueError:
            return {"raised": "ValueError"}
        return {"returned": result}
    result = fn(documents)
    if (
        isinstance(result, (tuple, list))
        and len(result) == 2
        and isinstance(result[1], np.ndarray)
        and result[1].dtype.kind in "UO"
    ):
        result = (result[0], result[1].tolist())  # a vocabulary as an array of strings: take its items
    return result


RUNNERS: dict[str, Callable] = {
    "bag_of_words": run_vectorizer,
    "tfidf": run_vectorizer,
}
