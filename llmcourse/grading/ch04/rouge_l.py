"""Exercise 5, ``rouge_l(prediction, reference) -> (precision, recall, fmeasure)``, against
rouge-score's ``RougeScorer(["rougeL"])`` without stemming; the oracle, the random texts and the
comparison are rouge_n's too (``common.py``)."""

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
def _rouge_l_cases(hidden: bool) -> list[Case]:
    cases = [
        rouge_case("lcs", "cat the sat on mat", "the cat sat on the mat", None, True),
        rouge_case("lcs", "the cat was found under the bed", "the cat was under the bed", None, True),
        rouge_case("lcs", "a cat", "the dog", None, True),  # no word in common: an LCS of 0
        rouge_case("tokens", "The Cat sat, on the MAT.", "the cat was on the mat!", None, True),
        rouge_case("tokens", "Naïve café, open!", "the café is open", None, True),
        rouge_case("empty", "", "the cat sat", None, True),
        rouge_case("empty", "the cat", "...", None, True),
    ]
    if hidden:
        rng = random.Random(6)
        for n_words in [5, 14, 30]:
            prediction, reference = rouge_random(rng, n_words, ROUGE_PLAIN)
            cases.append(rouge_case("lcs", prediction, reference, None, False))
        for n_words in [9, 20, 2]:
            prediction, reference = rouge_restyled(rng, n_words)
            cases.append(rouge_case("tokens", prediction, reference, None, False))
        cases += [
            rouge_case("lcs", "a b c d", "d c b a", None, False),
            rouge_case("lcs", "police killed the gunman", "the gunman police killed", None, False),
        ]
    return cases


# The catalogue, in the order a match is named: each id is a file in mistakes/rouge_l/.
MISTAKES = (
    "no_lowercasing",
    "lcs_on_characters",
    "precision_recall_swapped",
    "f_arithmetic_mean",
    "longest_common_substring",
    "f_zero_division",
    "no_empty_guard",
    "greedy_matching",
    "common_words",
    "unicode_words",
    "f_missing_factor_2",
    "over_longer_length",
)

ROUGE_L = Exercise(
    name="rouge_l",
    cell="rouge_l",
    test_cell="rouge_l_tests",
    points=2,
    subchecks=(
        SubCheck(
            "lcs",
            1.0,
            "precision and recall are the longest common subsequence of words (gaps allowed, order kept) "
            "over the prediction's and the reference's lengths; F1 their harmonic mean (0.0 when no word is shared)",
        ),
        SubCheck(
            "tokens",
            0.5,
            "rouge-score's tokens: lower-cased runs of ASCII letters and digits; everything else separates them "
            "(they decide the counts behind precision and recall)",
        ),
        SubCheck("empty", 0.5, "a text without words (empty or only punctuation) gives (0.0, 0.0, 0.0)"),
    ),
    cases=_rouge_l_cases,
    run=RUNNERS["rouge_l"],
    compare=rouge_compare("rouge_l"),
    forbidden=Forbidden(
        python=(f"{TEXT_METRICS}:rouge_l", f"{TEXT_METRICS}:tokenize_rouge", f"{TEXT_METRICS}:lcs_length")
        + ROUGE_PYTHON,
        names=ROUGE_NAMES,
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_rouge_l(fn, hidden: bool = False) -> None:
    """Exercise 5, against rouge-score's ``rougeL``. Hidden: random texts."""
    check(ROUGE_L, fn, hidden)
