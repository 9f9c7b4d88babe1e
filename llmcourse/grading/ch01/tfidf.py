"""Exercise 2, ``tfidf(documents) -> (matrix, vocabulary)``, against scikit-learn's
``TfidfVectorizer()`` with its default settings; a correct ``bag_of_words`` stands in for the
student's while it runs."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from llmcourse.grading.contract import Case, Exercise, Forbidden, GradingError, SubCheck, check, values_of
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch01 import RUNNERS
from llmcourse.grading.wire import tuple_items

from .common import (
    REFERENCE,
    SKLEARN_NAMES,
    SKLEARN_PYTHON,
    checked_array,
    column_order,
    compare_refusal,
    corpus,
    expect_values,
    expect_vocabulary,
    expect_zero_rows,
    label,
    oracle,
    split,
)


def _tfidf_cases(hidden: bool) -> list[Case]:
    visible = {
        "vocabulary": [["The cat sat on the mat.", "A dog? THE dog!", "Café, café"]],
        "weights": [["the cat sat", "the cat ran", "the dog ran ran"], ["to be or not to be", "be quick", "not now"]],
        "norm": [["the cat sat", "the cat ran", "the dog ran ran"]],
        "no_token": [["The cat sat.", "", "a !", "The dog sat."], ["", "The cat sat on the mat.", "?"]],
        "empty": [[], ["I", "?!"]],
    }
    cases = [_tfidf_case(sub, docs, True) for sub, corpora in visible.items() for docs in corpora]
    if hidden:
        for n, (size, length) in enumerate([(1, 5), (3, 10), (10, 30), (40, 50), (120, 40)]):
            cases.append(_tfidf_case("vocabulary", corpus(500 + n, size, length, unicode=True), False, seed=500 + n))
            cases.append(_tfidf_case("weights", corpus(600 + n, size, length), False, seed=600 + n))
            cases.append(_tfidf_case("norm", corpus(700 + n, size, length), False, seed=700 + n))
            cases.append(_tfidf_case("no_token", corpus(800 + n, size, length, token_less=1 + n), False, seed=800 + n))
        cases.append(_tfidf_case("weights", ["same words here", "same words here", "same words here"], False))
        for docs in ([""], ["a b", "...", "   "]):
            cases.append(_tfidf_case("empty", docs, False))
    return cases


def _tfidf_case(sub: str, documents: list[str], visible: bool, seed: int | None = None) -> Case:
    refuses = sub == "empty"
    expected = oracle(TfidfVectorizer, documents)
    if refuses != ("dict" in expected):
        raise AssertionError(f"case of {sub} on {documents!r}: scikit-learn {'accepts' if refuses else 'refuses'} it")
    return Case(sub, (documents, refuses), expected, label(documents, seed), visible)


def _unit_rows(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        norms = np.sqrt((a.astype(np.float64) ** 2).sum(axis=1, keepdims=True))
        return a / np.where(norms == 0, 1.0, norms)


def _tfidf_compare(case: Case, got: Any, expected: Any) -> None:
    what = "tfidf"
    if case.subcheck == "empty":
        compare_refusal(case, got, expected, what)
        return
    matrix_e, terms_e = tuple_items(expected)
    terms = terms_e["list"]
    matrix, got_terms = split(got, what)
    if case.subcheck == "vocabulary":
        expect_vocabulary(got_terms, terms, what="vocabulary", context=case.label)
        return
    if case.subcheck == "no_token":
        expect_zero_rows(matrix, matrix_e, case, what="TF-IDF matrix")
        return
    order = column_order(got_terms, terms, what="TF-IDF matrix", context=case.label)
    full = checked_array(
        matrix, matrix_e, what="TF-IDF matrix", context=case.label, n_columns=None if order is None else len(got_terms)
    )
    a, e = (full if order is None else full[:, order]), values_of(matrix_e)
    if case.subcheck == "weights":  # the direction of each row: count x idf, whatever the normalisation
        expect_values(
            _unit_rows(a),
            _unit_rows(e),
            what="TF-IDF weights (each row scaled to length 1 before comparing)",
            context=case.label,
            terms=terms,
            atol=1e-9,
            rtol=1e-7,
        )
    else:  # the length of each whole row
        a = full
        got_norms = np.sqrt((a.astype(np.float64) ** 2).sum(axis=1))
        want_norms = np.sqrt((e**2).sum(axis=1))
        # A row of zeros has no length to scale to 1: whether a row should be zeros is for the
        # weights (an idf that zeroes every term of a document) and no_token to judge, not this one.
        scaled = (got_norms != 0) & (want_norms != 0)
        with np.errstate(invalid="ignore"):
            bad = scaled & ~((np.abs(got_norms - want_norms) <= 1e-9) | (np.isnan(got_norms) & np.isnan(want_norms)))
        if bad.any():
            i = int(np.argmax(bad))
            raise GradingError(
                f"TF-IDF matrix for {case.label}: row {i} has Euclidean (L2) norm {got_norms[i]:.6g}, expected "
                f"{want_norms[i]:.6g}; "
                f"row sums: expected {e[i].sum():.6g}, got {a[i].sum():.6g}"
            )


# The catalogue, in the order a match is named: each id is a file in mistakes/tfidf/.
MISTAKES = (
    "unsmoothed_idf",
    "idf_without_plus_one",
    "log10",
    "df_counts_occurrences",
    "sublinear_tf",
    "not_normalised",
    "l1_norm",
    "nan_rows",
    "normalised_counts",
    "no_value_error",
    "column_norm",
    "squared_norm",
    "df_wrong_axis",
    "float32",
    "binary_tf",
    "idf_one_plus_ratio",
)

TFIDF = Exercise(
    name="tfidf",
    cell="tfidf",
    test_cell="tfidf_tests",
    points=4,
    subchecks=(
        SubCheck("vocabulary", 0.5, "the vocabulary is the same sorted list of terms as bag_of_words's"),
        SubCheck(
            "weights",
            1.5,
            "each row is proportional to count x (ln((1 + n) / (1 + df)) + 1), a float64 NumPy array (n_documents, "
            "n_terms)",
        ),
        SubCheck("norm", 1.0, "each row is divided by its Euclidean (L2) norm, so it has length 1"),
        SubCheck("no_token", 0.5, "a document without any token gets a row of zeros (not NaN)"),
        SubCheck("empty", 0.5, "raises ValueError when no document has a token (also for an empty list)"),
    ),
    cases=_tfidf_cases,
    run=RUNNERS["tfidf"],
    compare=_tfidf_compare,
    depends={"bag_of_words": f"{REFERENCE}:bag_of_words"},
    forbidden=Forbidden(
        python=(
            f"{REFERENCE}:tfidf",
            f"{REFERENCE}:idf",
            *SKLEARN_PYTHON,
            "sklearn.preprocessing._data:normalize.__wrapped__",
        ),
        names=SKLEARN_NAMES,
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_tfidf(fn, hidden: bool = False) -> None:
    """Exercise 2, against scikit-learn's ``TfidfVectorizer()``; a correct ``bag_of_words``
    stands in for yours while it runs. Hidden: random corpora of 1 to 120 documents."""
    check(TFIDF, fn, hidden)
