"""Exercise 4, ``rouge_n(prediction, reference, n) -> (precision, recall, fmeasure)``, against
rouge-score's ``RougeScorer`` without stemming; the oracle, the random texts and the comparison are
rouge_l's too (``common.py``)."""

from __future__ import annotations

import random

from llmcourse.grading.contract import Case, Exercise, Forbidden, SubCheck, check
from llmcourse.grading.kit import cases_once, catalogue
from llmcourse.grading.runners.ch04 import RUNNERS

from .common import (
    ROUGE_NAMES,
    ROUGE_PLAIN,
    ROUGE_PYTHON,
    TEXT_METRICS,
    rouge_case,
    rouge_compare,
    rouge_random,
    rouge_restyled,
)


@cases_once
def _rouge_n_cases(hidden: bool) -> list[Case]:
    cases = [
        rouge_case("counts", "the cat sat on the mat", "the cat was on the mat", 1, True),
        rouge_case("counts", "the cat sat on the mat", "the cat was on the mat", 2, True),
        rouge_case("counts", "the the cat the", "the cat sat the the", 1, True),
        rouge_case("counts", "the the the cat", "the cat sat on the mat", 1, True),
        rouge_case("counts", "a dog ran", "the cat sat", 1, True),
        rouge_case("tokens", "The Cat sat, on the MAT.", "the cat was on the mat!", 1, True),
        rouge_case("tokens", "Naïve café, open!", "the café is open", 1, True),
        rouge_case("empty", "", "the cat sat", 1, True),
        rouge_case("empty", "the cat", "cat", 2, True),
    ]
    if hidden:
        rng = random.Random(5)
        for n, n_words in [(1, 6), (1, 15), (2, 8), (3, 12), (4, 30), (2, 3)]:
            prediction, reference = rouge_random(rng, n_words, ROUGE_PLAIN)
            cases.append(rouge_case("counts", prediction, reference, n, False))
        for n, n_words in [(1, 8), (2, 20), (3, 25), (1, 3)]:
            prediction, reference = rouge_restyled(rng, n_words)
            cases.append(rouge_case("tokens", prediction, reference, n, False))
        cases += [
            rouge_case("counts", "a b c d", "a b c d e f g h", 2, False),
            rouge_case("counts", "cat the sat on mat", "the cat sat on the mat", 3, False),
            rouge_case("empty", "the cat sat", "", 1, False),
            rouge_case("empty", "!!! ...", "the cat", 1, False),
            rouge_case("empty", "the cat sat", "the cat sat", 4, False),
        ]
    return cases


# The catalogue, in the order a match is named: each id is a file in mistakes/rouge_n/.
MISTAKES = (
    "no_lowercasing",
    "set_overlap",
    "precision_recall_swapped",
    "f_arithmetic_mean",
    "whitespace_tokens",
    "f_zero_division",
    "ngrams_short_by_one",
    "unigrams_only",
    "no_empty_guard",
    "unclipped_overlap",
    "unicode_words",
    "f_missing_factor_2",
)

ROUGE_N = Exercise(
    name="rouge_n",
    cell="rouge_n",
    test_cell="rouge_n_tests",
    points=2,
    subchecks=(
        SubCheck(
            "counts",
            1.0,
            "(precision, recall, fmeasure) of the n-grams the two texts share, counted with repeats "
            "(precision over the prediction's n-grams, recall over the reference's, F1 their harmonic mean, 0.0 when "
            "they share none)",
        ),
        SubCheck(
            "tokens",
            0.5,
            "rouge-score's tokens: lower-cased runs of ASCII letters and digits; everything else separates them "
            "(they decide the counts behind precision and recall)",
        ),
        SubCheck(
            "empty", 0.5, "a text without n-grams (empty, only punctuation, or shorter than n) gives (0.0, 0.0, 0.0)"
        ),
    ),
    cases=_rouge_n_cases,
    run=RUNNERS["rouge_n"],
    compare=rouge_compare("rouge_n"),
    forbidden=Forbidden(
        python=(f"{TEXT_METRICS}:rouge_n", f"{TEXT_METRICS}:tokenize_rouge", f"{TEXT_METRICS}:ngrams") + ROUGE_PYTHON,
        names=ROUGE_NAMES,
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_rouge_n(fn, hidden: bool = False) -> None:
    """Exercise 4, against rouge-score's ``rouge1``/``rouge2``/... without stemming. Hidden: random texts, n up to 4."""
    check(ROUGE_N, fn, hidden)
