"""Exercise 1, ``bag_of_words(documents) -> (counts, vocabulary)``, against scikit-learn's
``CountVectorizer()`` with its default settings."""

from __future__ import annotations

from typing import Any

from sklearn.feature_extraction.text import CountVectorizer

from llmcourse.grading.contract import Case, Exercise, Forbidden, GradingError, SubCheck, check
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch01 import RUNNERS
from llmcourse.grading.wire import tuple_items

from .common import (
    REFERENCE,
    SKLEARN_NAMES,
    SKLEARN_PYTHON,
    compare_refusal,
    corpus,
    expect_array,
    expect_vocabulary,
    expect_zero_rows,
    label,
    oracle,
    preview_terms,
    split,
)


def _bow_cases(hidden: bool) -> list[Case]:
    visible = {
        "vocabulary": [
            ["The cat sat on the mat.", "The dog sat on the log!"],
            ["I saw a CAT", "a cat saw me", "Cats, cat, CAT."],
        ],
        "counts": [
            ["the cat and the hat", "the THE The cat", "hat"],
            ["Dog bites man.", "Man bites dog!", "dog dog dog"],
        ],
        "unicode": [["café au lait in zürich", "東京 and 北京, déjà-vu", "snake_case x2 costs 3.14 in 2024"]],
        "no_token": [["A cat.", "", "a b c !", "The cat and a dog"]],
        "empty": [[], ["a", "!?", "I x y"]],
    }
    cases = [_bow_case(sub, docs, True) for sub, corpora in visible.items() for docs in corpora]
    if hidden:
        for n, (size, length) in enumerate([(1, 6), (4, 12), (12, 30), (40, 60), (150, 40)]):
            cases.append(_bow_case("vocabulary", corpus(100 + n, size, length), False, seed=100 + n))
            cases.append(_bow_case("counts", corpus(200 + n, size, length), False, seed=200 + n))
            cases.append(_bow_case("unicode", corpus(300 + n, size, length, unicode=True), False, seed=300 + n))
            cases.append(_bow_case("no_token", corpus(400 + n, size, length, token_less=1 + n), False, seed=400 + n))
        for docs in ([""], ["   ", "...", "a b c d e f"], ["I", "A.", "x, y, z"]):
            cases.append(_bow_case("empty", docs, False))
    return cases


def _bow_case(sub: str, documents: list[str], visible: bool, seed: int | None = None) -> Case:
    refuses = sub == "empty"
    expected = oracle(CountVectorizer, documents)
    if refuses != ("dict" in expected):
        raise AssertionError(f"case of {sub} on {documents!r}: scikit-learn {'accepts' if refuses else 'refuses'} it")
    return Case(sub, (documents, refuses), expected, label(documents, seed), visible)


def _bow_compare(case: Case, got: Any, expected: Any) -> None:
    what = "bag_of_words"
    if case.subcheck == "empty":
        compare_refusal(case, got, expected, what)
        return
    counts_e, terms_e = tuple_items(expected)
    terms = terms_e["list"]
    counts, got_terms = split(got, what)
    if case.subcheck == "vocabulary":
        expect_vocabulary(got_terms, terms, what="vocabulary", context=case.label)
        return
    if case.subcheck == "no_token":
        expect_zero_rows(counts, counts_e, case, what="counts")
        return
    if case.subcheck == "unicode":  # the tokens found, whatever else the vocabulary holds
        missing = [t for t in terms if t not in set(got_terms)]
        if missing:
            raise GradingError(f"vocabulary for {case.label}: these tokens are missing: {preview_terms(missing)}")
        return
    # every expected term has a column with the right counts (extra terms cost the vocabulary
    # requirement, not this one)
    expect_array(counts, counts_e, what="counts", context=case.label, terms=terms, got_terms=got_terms)


# The catalogue, in the order a match is named: each id is a file in mistakes/bag_of_words/.
MISTAKES = (
    "no_lowercase",
    "single_characters",
    "whitespace_split",
    "ascii_only",
    "insertion_order",
    "int_counts",
    "presence",
    "transposed",
    "drops_token_less",
    "no_value_error",
    "frequencies",
    "frequency_order",
    "float32_counts",
    "empty_list_only",
    "ascii_flag",
)

BAG_OF_WORDS = Exercise(
    name="bag_of_words",
    cell="bag_of_words",
    test_cell="bag_of_words_tests",
    points=4,
    subchecks=(
        SubCheck(
            "vocabulary",
            1.0,
            "the vocabulary is the sorted list of distinct tokens: lower-cased, two or more word characters",
        ),
        SubCheck(
            "counts",
            1.5,
            "counts is a float64 NumPy array (n_documents, n_terms): how often each term occurs in each document",
        ),
        SubCheck("unicode", 0.5, "every word character counts: Unicode letters, digits and _"),
        SubCheck("no_token", 0.5, "a document without any token gets a row of zeros"),
        SubCheck("empty", 0.5, "raises ValueError when no document has a token (also for an empty list)"),
    ),
    cases=_bow_cases,
    run=RUNNERS["bag_of_words"],
    compare=_bow_compare,
    forbidden=Forbidden(
        python=(f"{REFERENCE}:bag_of_words", f"{REFERENCE}:tfidf", f"{REFERENCE}:tokenize", *SKLEARN_PYTHON),
        names=SKLEARN_NAMES,
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_bag_of_words(fn, hidden: bool = False) -> None:
    """Exercise 1, against scikit-learn's ``CountVectorizer()``. Visible: each requirement on
    small corpora; hidden: random corpora of 1 to 150 documents."""
    check(BAG_OF_WORDS, fn, hidden)
