"""What chapter 04's exercises share: the names of the course's reference and of the libraries the
answers may not use, the comparison of numbers, the tiny GPT-2 weights the model-based cases carry
(sliding_window, score_choices), the forbidden calls of the multiple-choice pair (score_choices,
accuracy), and the oracle, cases and comparison of the ROUGE pair (rouge_n, rouge_l)."""

from __future__ import annotations

import functools
import io
import random
from typing import Any, cast

import torch
from rouge_score import rouge_scorer

from llmcourse.grading.contract import (
    Case,
    Forbidden,
    GradingError,
    expect_float,
    float_of,
    items_of,
    kind_of,
    to_plain,
)
from llmcourse.grading.runners.ch04 import tiny_model
from llmcourse.grading.wire import tensor_meta

METRICS = "llmcourse.metrics"
TEXT_METRICS = "llmcourse.text_metrics"
REFERENCE_NAMES = (
    METRICS,
    TEXT_METRICS,
    "llmcourse.train",
    "token_nll",
    "window_losses",
    "sliding_window_perplexity_variants",
    "document_cross_entropy",
    "tokenize_rouge",
    "lcs_length",
)
# The source layer matches a module name exactly, so the submodules of a forbidden package are listed too.
ROUGE_SCORE_NAMES = (
    "rouge_score",
    "rouge_score.rouge_scorer",
    "rouge_score.tokenize",
    "rouge_score.tokenizers",
    "rouge_score.scoring",
    "rouge_scorer",
    "RougeScorer",
)
NLTK_NAMES = ("nltk", "nltk.translate", "nltk.translate.bleu_score")


def expect_number(got: Any, expected: Any, *, what: str, context: str, atol: float, rtol: float) -> None:
    """``got`` (plain) must be a number close to ``expected`` (plain: the oracle's, or a catalogued mistake's)."""
    value = float_of(expected)
    if value is None:
        raise GradingError(f"{what} for {context}: the result to compare with is {kind_of(expected)}, not a number")
    expect_float(got, value, what=what, context=context, atol=atol, rtol=rtol)


def expect_python_float(got: Any, expected: Any, *, what: str, context: str) -> None:
    """A result must be a Python float (or int), not a tensor or array (a 0-dim one included, which
    ``expect_float`` would accept). A catalogued mistake's result (``expected``) that is itself a
    tensor is compared by value, so that the mistake returning one is recognised."""
    meta = tensor_meta(got)
    if meta is not None and tensor_meta(expected) is None:
        shown = f"a 0-dim {meta.kind}" if meta.has_shape(()) else kind_of(got)
        raise GradingError(f"{what} for {context}: expected a Python float, got {shown}: call .item()")


def short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...]"


# The course's reference for perplexity. window_losses is wrapped by @torch.no_grad(), whose
# wrapper the guard cannot swap (a closure): its __wrapped__ function is listed instead.
METRICS_FUNCTIONS = (
    "perplexity",
    "token_nll",
    "sliding_window_perplexity",
    "window_losses.__wrapped__",
    "sliding_window_perplexity_variants",
)


# ---------------------------------------------------------------- tiny models (sliding_window, score_choices)


@functools.cache
def tiny_weights(seed: int) -> bytes:
    """The weights of ``tiny_model(seed=seed)``, saved as bytes. Cases carry these bytes, not
    tensors: the engine sends a job's inputs to the student's process by pickling, where every
    tensor takes a file descriptor (at most 256 per process start); equal bytes are pickled once."""
    buffer = io.BytesIO()
    torch.save(tiny_model(seed=seed).state_dict(), buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- multiple choice (score_choices, accuracy)

_CHOICE_FUNCTIONS = (
    "score_choices.__wrapped__",
    "accuracy",
    "encode_choices",
    "option_loglikelihoods",
    "multiple_choice_accuracy",
)
CHOICE_FORBIDDEN = Forbidden(
    python=tuple(f"{METRICS}:{name}" for name in _CHOICE_FUNCTIONS + METRICS_FUNCTIONS),
    names=REFERENCE_NAMES + ("lm_eval",),
)


# ---------------------------------------------------------------- ROUGE (rouge_n, rouge_l)

_SCORERS: dict[str, rouge_scorer.RougeScorer] = {}


def rouge_oracle(prediction: str, reference: str, kind: str) -> tuple[float, float, float]:
    """rouge-score without stemming; note that it takes the reference first."""
    if kind not in _SCORERS:
        _SCORERS[kind] = rouge_scorer.RougeScorer([kind], use_stemmer=False)
    score = _SCORERS[kind].score(reference, prediction)[kind]
    return float(score.precision), float(score.recall), float(score.fmeasure)


_ROUGE_WORDS = (
    "the",
    "The",
    "THE",
    "cat",
    "Cat",
    "sat",
    "on",
    "mat",
    "mat.",
    "a",
    "dog",
    "ran",
    "café",
    "Naïve",
    "3",
    "x-y",
    "don't",
    "!",
    "big",
    "red",
    "was",
    "under",
    "bed,",
)


# Plain words (lower-case ASCII, no punctuation): rouge-score's tokens are the words themselves, so
# the cases made of them judge the counting, not the tokenizer (the "tokens" requirement's).
ROUGE_PLAIN = ("the", "cat", "sat", "on", "mat", "a", "dog", "ran", "3", "big", "red", "was", "under", "bed")


def rouge_random(rng: random.Random, n_words: int, words: tuple[str, ...] = _ROUGE_WORDS) -> tuple[str, str]:
    """A reference, and a prediction that shares some of its words (reordered, dropped, replaced)."""
    reference = [rng.choice(words) for _ in range(n_words)]
    prediction = [w if rng.random() < 0.6 else rng.choice(words) for w in reference if rng.random() < 0.85]
    if rng.random() < 0.5 and len(prediction) > 2:
        i = rng.randrange(len(prediction) - 1)
        prediction[i], prediction[i + 1] = prediction[i + 1], prediction[i]
    return " ".join(prediction), " ".join(reference)


def rouge_restyled(rng: random.Random, n_words: int) -> tuple[str, str]:
    """A reference of plain words, and a prediction of the same words written otherwise (capitals,
    punctuation, quotes): with rouge-score's tokens the two are the same sequence, so these cases
    judge the tokens, not the formula (the visible "tokens" cases are of this kind)."""
    words = [rng.choice(ROUGE_PLAIN + ("café", "naïve")) for _ in range(n_words)]
    styles = (str, str.capitalize, str.upper, "{},".format, "{}.".format, "'{}'".format, "({})".format, "{}!".format)
    return " ".join(rng.choice(styles)(w) for w in words), " ".join(words)


def rouge_case(sub: str, prediction: str, reference: str, n: int | None, visible: bool) -> Case:
    kind = "rougeL" if n is None else f"rouge{n}"
    label = f"prediction={prediction!r}, reference={reference!r}" + (f", n={n}" if n is not None else "")
    return Case(sub, (prediction, reference, n), to_plain(rouge_oracle(prediction, reference, kind)), label, visible)


def rouge_compare(name: str):
    def compare(case: Case, got: Any, expected: Any) -> None:
        got_items = items_of(got, f"{name}(prediction, reference{', n' if name == 'rouge_n' else ''})", 3)
        try:
            expected_items = items_of(expected, name, 3)
        except GradingError:
            raise GradingError(f"{name} for {case.label}: the result to compare with is {kind_of(expected)}") from None
        if case.subcheck == "tokens":
            _tokens_compare(name, case, got_items, expected_items)
            return
        for what, g, e in zip(("precision", "recall", "fmeasure"), got_items, expected_items):
            expect_number(g, e, what=f"{name} {what}", context=case.label, atol=1e-9, rtol=1e-6)

    return compare


def _tokens_compare(name: str, case: Case, got_items: list, expected_items: list) -> None:
    """The "tokens" requirement: the tokens decide how many words (n-grams) each text has and how
    many they share, so precision and recall as a pair; which of the two is which, and the
    f-measure, are the formula's requirement ("counts" or "lcs"), judged by its own cases."""
    values = [float_of(g) for g in got_items[:2]]
    if None in values:
        raise GradingError(
            f"{name} for {case.label}: precision and recall must be numbers, got "
            f"{kind_of(got_items[0])} and {kind_of(got_items[1])}"
        )
    wanted = [float_of(e) for e in expected_items[:2]]
    if None in wanted:
        raise GradingError(f"{name} for {case.label}: the result to compare with is not a pair of numbers")
    numbers, wanted_numbers = cast(list[float], values), cast(list[float], wanted)  # no None, checked above
    close = all(abs(g - e) <= 1e-9 + 1e-6 * abs(e) for g, e in zip(sorted(numbers), sorted(wanted_numbers)))
    if not close:
        raise GradingError(
            f"{name} for {case.label}: precision and recall should be {wanted[0]:.6g} and {wanted[1]:.6g} "
            f"(from the words each text has and those they share), got {values[0]:.6g} and {values[1]:.6g}"
        )


ROUGE_PYTHON = (
    "rouge_score.rouge_scorer:RougeScorer",
    "rouge_score.rouge_scorer:_score_ngrams",
    "rouge_score.rouge_scorer:_score_lcs",
    "rouge_score.rouge_scorer:_create_ngrams",
    "rouge_score.rouge_scorer:_lcs_table",
    "rouge_score.tokenize:tokenize",
    "rouge_score.tokenizers:DefaultTokenizer",
)
ROUGE_NAMES = REFERENCE_NAMES + ROUGE_SCORE_NAMES + NLTK_NAMES
