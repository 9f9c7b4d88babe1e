"""Exercise 3, ``top_p_filter(logits, p)``, against Hugging Face's ``TopPLogitsWarper`` on
logits whose running totals of probabilities keep clear of ``p``."""

from __future__ import annotations

import functools

import torch
from transformers.generation.logits_process import TopPLogitsWarper

from llmcourse.grading.contract import Case, Exercise, SubCheck, check
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch05 import RUNNERS

from .common import FORBIDDEN, after_top_k, hf_processor, logits_label, processor_case, processor_compare, random_logits


def _nucleus_margin(logits: torch.Tensor, p: float) -> float:
    """How far every running total of probabilities (most likely first) is from ``p``: a correct
    answer summing in another order or precision cannot land on the other side of it."""
    probs = torch.softmax(logits.double(), dim=-1).sort(dim=-1, descending=True).values
    return float((probs.cumsum(dim=-1) - p).abs().min())


def nucleus_logits(B: int, V: int, p: float, seed: int) -> torch.Tensor:
    """Tie-free logits whose cumulative probabilities keep clear of ``p`` (the first seed from ``seed``)."""
    for s in range(seed, seed + 100):
        logits = random_logits(B, V, s)
        if _nucleus_margin(logits, p) > 1e-4:
            return logits
    raise AssertionError("no logits with a clear nucleus found")


_top_p_oracle = hf_processor(lambda p: TopPLogitsWarper(p))


@functools.lru_cache(maxsize=2)
def _top_p_cases(hidden: bool) -> list[Case]:
    def case(sub, logits, p, visible=True):
        return processor_case(sub, _top_p_oracle, (logits, p), logits_label(logits, p=p), visible)

    cases = [
        case("nucleus", nucleus_logits(1, 7, 0.5, 0), 0.5),
        case("nucleus", nucleus_logits(3, 50, 0.9, 1), 0.9),
        case("nucleus", random_logits(2, 9, 2, scale=1.0), 1.0),
        case("nucleus", after_top_k(3, 50, 3), 0.3),
        case(
            "nucleus", random_logits(2, 1000, 2, scale=5.0), 1.0
        ),  # a long tail of tiny probabilities, as a real model's
        case("keeps_one", nucleus_logits(3, 50, 0.0, 4), 0.0),
    ]
    if hidden:
        cases += [
            case("nucleus", nucleus_logits(4, 1000, 0.5, 10), 0.5, False),
            case("nucleus", nucleus_logits(4, 1000, 0.9, 20), 0.9, False),
            case("nucleus", nucleus_logits(3, 50, 0.75, 30), 0.75, False),
            case("nucleus", nucleus_logits(1, 2, 0.6, 40), 0.6, False),
            case("nucleus", after_top_k(2, 100, 50), 0.95, False),
            case("nucleus", random_logits(3, 2000, 0, scale=4.0), 1.0, False),
            case("keeps_one", nucleus_logits(3, 50, 0.01, 60), 0.01, False),
            case("keeps_one", nucleus_logits(4, 1000, 0.0, 70), 0.0, False),
        ]
    return cases


# The catalogue, in the order a match is named: each id is a file in mistakes/top_p/.
MISTAKES = (
    "drops_crossing_token",
    "ascending_sort",
    "mask_not_unsorted",
    "cumsum_of_logits",
    "softmax_over_batch",
    "returns_probabilities",
    "removes_everything_for_p0",
    "p_equal_1_rounds",
    "p_as_fraction_of_vocabulary",
    "probability_threshold",
    "ascending_keeps_wrong_end",
    "gather_not_scatter",
    "first_row_only",
    "fills_zero",
)

TOP_P = Exercise(
    name="top_p_filter",
    cell="top_p",
    test_cell="top_p_tests",
    points=2,
    subchecks=(
        SubCheck(
            "nucleus",
            1.5,
            "keeps the smallest set of most likely tokens whose probabilities add up to at least p (the token that "
            "crosses p included), -inf elsewhere; p = 1 keeps all",
        ),
        SubCheck("keeps_one", 0.5, "always keeps the most likely token (p = 0 keeps exactly that one)"),
    ),
    cases=_top_p_cases,
    run=RUNNERS["top_p"],
    compare=processor_compare("top_p_filter"),
    forbidden=FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_top_p_filter(fn, hidden: bool = False) -> None:
    """Exercise 3, against Hugging Face's TopPLogitsWarper on tie-free logits."""
    check(TOP_P, fn, hidden)
