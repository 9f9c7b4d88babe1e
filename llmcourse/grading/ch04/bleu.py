"""Exercise 3, ``bleu(hypotheses, references) -> float``, against ``sacrebleu.corpus_bleu`` with its
defaults."""

from __future__ import annotations

import random
from typing import Any

import sacrebleu

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    check,
    float_of,
    kind_of,
    to_plain,
)
from llmcourse.grading.kit import cases_once, catalogue
from llmcourse.grading.runners.ch04 import _RAISED, RUNNERS

from .common import NLTK_NAMES, REFERENCE_NAMES, TEXT_METRICS, expect_number, short

# The source layer matches a module name exactly, so the submodules of a forbidden package are listed too.
SACREBLEU_NAMES = (
    "sacrebleu",
    "sacrebleu.metrics",
    "sacrebleu.metrics.bleu",
    "sacrebleu.compat",
    "sacrebleu.tokenizers",
    "sacrebleu.tokenizers.tokenizer_13a",
    "corpus_bleu",
)


def _bleu_oracle(hypotheses: list[str], references: list[list[str]]) -> sacrebleu.metrics.bleu.BLEUScore:
    """sacrebleu with its defaults. It takes one *stream* per reference set (the transpose of
    ``references``); a hypothesis with fewer references gets None in the streams it lacks."""
    k = max(len(refs) for refs in references)
    streams: list[list[Any]] = [[refs[j] if j < len(refs) else None for refs in references] for j in range(k)]
    return sacrebleu.corpus_bleu(hypotheses, streams)


def _bleu_case(sub: str, hypotheses: list[str], references: list[list[str]], visible: bool, label: str = "") -> Case:
    label = label or f"hypotheses={short(hypotheses)}, references={short(references)}"
    if sub == "errors":
        return Case(sub, (hypotheses, references, True), to_plain(_RAISED), label, visible)
    return Case(
        sub, (hypotheses, references, False), to_plain(_bleu_oracle(hypotheses, references).score), label, visible
    )


_BLEU_WORDS = (
    "the",
    "The",
    "cat",
    "dog",
    "sat",
    "on",
    "mat.",
    "a",
    "red",
    "ran",
    "in",
    "park",
    "today",
    "3.50",
    "$3.50,",
    "1,000",
    "don't",
    "(yes)",
    "U.S.",
    "well,",
    "end.",
    "!",
    "is",
    "big",
)


def _bleu_random(rng: random.Random, n_hypotheses: int, max_refs: int) -> tuple[list[str], list[list[str]]]:
    """Random references, and hypotheses made from one of them by random edits (so most n-grams match)."""
    hypotheses, references = [], []
    for _ in range(n_hypotheses):
        refs = [[rng.choice(_BLEU_WORDS) for _ in range(rng.randint(4, 12))] for _ in range(rng.randint(1, max_refs))]
        hyp = []
        for word in rng.choice(refs):
            action = rng.random()
            if action < 0.12:
                continue  # dropped
            hyp.append(rng.choice(_BLEU_WORDS) if action < 0.25 else word)
            if action > 0.93:
                hyp.append(word)  # repeated
        hypotheses.append(" ".join(hyp))
        references.append([" ".join(r) for r in refs])
    return hypotheses, references


def _bleu_subcheck(hypotheses: list[str], references: list[list[str]]) -> str:
    """Which requirement a random corpus exercises: "corpus" when it has several hypotheses or
    references (as the visible corpus cases, whatever else it needs); one hypothesis with one
    reference is "smoothing" when an n-gram order has no match, else "sentence"."""
    if len(hypotheses) > 1 or any(len(r) > 1 for r in references):
        return "corpus"
    stats = _bleu_oracle(hypotheses, references)
    return "smoothing" if any(c == 0 for c in stats.counts) else "sentence"


@cases_once
def _bleu_cases(hidden: bool) -> list[Case]:
    cases = [
        _bleu_case("sentence", ["The cat sat on the mat."], [["The cat is sitting on the mat."]], True),
        _bleu_case("sentence", ["the the the cat sat on the mat"], [["the cat sat on the mat"]], True),
        _bleu_case("smoothing", ["the cat is on a mat"], [["the cat sat on the mat"]], True),
        _bleu_case("smoothing", ["a dog barked loudly"], [["the cat sat on the mat"]], True),
        _bleu_case("smoothing", ["the cat"], [["the cat"]], True),
        _bleu_case(
            "corpus",
            ["It costs $3.50, right?", "A dog ran."],
            [["It costs $3.50, doesn't it?"], ["A dog ran in the park today.", "The dog ran."]],
            True,
        ),
        _bleu_case(
            "corpus",
            ["a cat sat on the red mat today", "the dog"],
            [["the cat sat on a mat", "a cat is on the mat"], ["the dog barked"]],
            True,
        ),
        _bleu_case(
            "corpus",
            ["the the the the cat sat on a mat", "a dog ran"],
            [["a cat sat on the mat", "the cat sat on the mat"], ["a dog ran in the park"]],
            True,
        ),
        _bleu_case("corpus", ["the cat sat on the mat"], [["the cat sat on the red mat", "the cat"]], True),
        # two references equally close (4 and 6 tokens for 5): the shorter one's length counts
        _bleu_case("corpus", ["the cat sat on mat"], [["the cat sat on", "a cat sat on the mat"]], True),
        _bleu_case("errors", ["the cat sat", "a dog ran"], [["the cat sat"]], True),
        _bleu_case("errors", [], [], True, "hypotheses=[], references=[]"),
    ]
    if hidden:
        rng = random.Random(4)
        for n_hypotheses, max_refs in [(1, 1), (1, 1), (1, 3), (3, 1), (5, 3), (8, 2), (12, 4)]:
            hypotheses, references = _bleu_random(rng, n_hypotheses, max_refs)
            cases.append(_bleu_case(_bleu_subcheck(hypotheses, references), hypotheses, references, False))
        cases += [
            _bleu_case("smoothing", ["the big red dog ran in the park"], [["a big red dog is in a park"]], False),
            _bleu_case("smoothing", ["well the end"], [["the end"]], False),
            _bleu_case("smoothing", [""], [["the cat sat on the mat"]], False),
            _bleu_case("errors", ["the cat"], [["the cat"], ["a cat"]], False),
            _bleu_case("errors", ["x y z w"] * 3, [["x y z w"]] * 2, False),
        ]
    return cases


def _bleu_compare(case: Case, got: Any, expected: Any) -> None:
    raised = to_plain(_RAISED)
    if expected == raised:
        if got != raised:
            value = float_of(got)
            shown = f"{value:.6g}" if value is not None else kind_of(got)
            raise GradingError(
                f"bleu for {case.label}: expected ValueError (one list of references per hypothesis, "
                f"at least one hypothesis), got {shown}"
            )
        return
    if got == raised:
        raise GradingError(f"bleu for {case.label}: raised ValueError where a score was expected")
    expect_number(got, expected, what="BLEU", context=case.label, atol=1e-9, rtol=1e-6)


# The catalogue, in the order a match is named: each id is a file in mistakes/bleu/.
MISTAKES = (
    "no_count_check",
    "no_brevity_penalty",
    "no_clipping",
    "arithmetic_mean",
    "no_smoothing",
    "whitespace_tokenization",
    "mean_of_sentence_bleu",
    "first_reference_length",
    "tie_longer_reference",
    "clip_by_sum_of_references",
    "clip_by_first_reference",
    "shortest_reference_length",
    "penalty_when_longer",
    "fraction_not_percent",
    "orders_up_to_3",
    "smoothing_k_not_doubled",
    "missing_orders_skipped",
    "empty_corpus_scored",
)

BLEU = Exercise(
    name="bleu",
    cell="bleu",
    test_cell="bleu_tests",
    points=3,
    subchecks=(
        SubCheck(
            "sentence",
            1.0,
            "one hypothesis, one reference: sacrebleu's score (13a tokens, clipped n-gram precisions "
            "for n = 1..4, their geometric mean, the brevity penalty), between 0 and 100",
        ),
        SubCheck(
            "smoothing",
            0.5,
            "an n-gram order without a match uses sacrebleu's 'exp' smoothing; no match at all, "
            "or no 4-gram at all, gives 0",
        ),
        SubCheck(
            "corpus",
            1.0,
            "several hypotheses with one or more references each: counts and lengths summed over the "
            "corpus, clipping by the largest count in any reference, the closest reference length (the shorter one "
            "on a tie)",
        ),
        SubCheck(
            "errors", 0.5, "ValueError when the numbers of hypotheses and of reference lists differ, or there are none"
        ),
    ),
    cases=_bleu_cases,
    run=RUNNERS["bleu"],
    compare=_bleu_compare,
    forbidden=Forbidden(
        python=(
            f"{TEXT_METRICS}:bleu",
            f"{TEXT_METRICS}:tokenize_13a",
            "sacrebleu:corpus_bleu",
            "sacrebleu:sentence_bleu",
            "sacrebleu.metrics.bleu:BLEU",
            "sacrebleu.tokenizers.tokenizer_13a:Tokenizer13a",
        ),
        names=REFERENCE_NAMES + SACREBLEU_NAMES + NLTK_NAMES,
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_bleu(fn, hidden: bool = False) -> None:
    """Exercise 3, against ``sacrebleu.corpus_bleu``. Hidden: random corpora."""
    check(BLEU, fn, hidden)
