"""Graded checks of chapter 01 (from counting words to transformers), declared for the engine.

Test cells call ``check_bag_of_words(fn)`` and ``check_tfidf(fn)`` (visible cases); the hidden
part adds ``hidden=True``. Expected values come from scikit-learn itself, ``CountVectorizer()``
and ``TfidfVectorizer()`` with their default settings (``fit_transform(...).toarray()`` and
``get_feature_names_out()``), never from the course's reference :mod:`llmcourse.text`.

Answers return NumPy arrays, which :func:`~llmcourse.grading.contract.expect_tensor` does not
take (it wants a ``torch.Tensor``), so this module compares arrays itself
(:func:`expect_array`): kind, shape, dtype, then values, with the first differing entry named by
its document and term. Columns are matched by term before values are compared, so a vocabulary
in the wrong order, or with extra terms, costs the vocabulary requirement only (a missing term
fails the values too: they cannot be right).

One module per exercise (``bag_of_words.py``, ``tfidf.py``: cases, comparison, forbidden calls,
declaration and ``check_*``), what they share in ``common.py``, and each catalogued mistake as an
answer file in ``mistakes/<exercise>/<id>.py`` (its docstring is the student's message). The valid
alternatives are on the instructor's side, ``autograde/alternatives/ch01/``. The mutation suite
(``make mutants``) grades every mistake and alternative.
"""

from __future__ import annotations

from llmcourse.grading.contract import Exercise

from .bag_of_words import BAG_OF_WORDS, check_bag_of_words
from .tfidf import TFIDF, check_tfidf

EXERCISES: dict[str, Exercise] = {
    "bag_of_words": BAG_OF_WORDS,
    "tfidf": TFIDF,
}

__all__ = ["BAG_OF_WORDS", "EXERCISES", "TFIDF", "check_bag_of_words", "check_tfidf"]
