"""Exercise 2, ``top_k_filter(logits, k)``, against Hugging Face's ``TopKLogitsWarper``, ties
included."""

from __future__ import annotations

import functools

import torch
from transformers.generation.logits_process import TopKLogitsWarper

from llmcourse.grading.contract import Case, Exercise, SubCheck, check
from llmcourse.grading.kit import catalogue, seeded
from llmcourse.grading.runners.ch05 import RUNNERS

from .common import FORBIDDEN, after_top_k, hf_processor, logits_label, processor_case, processor_compare, random_logits


def tied_logits() -> torch.Tensor:
    """Logits ``(5, 20)`` full of ties: small integers, and a first row with three tied maxima."""
    logits = torch.randint(-3, 4, (5, 20), generator=seeded(3)).float()
    logits[0] = torch.tensor([5.0, 5.0, 5.0] + [0.0] * 17)
    return logits


_top_k_oracle = hf_processor(lambda k: TopKLogitsWarper(k))


@functools.lru_cache(maxsize=2)
def _top_k_cases(hidden: bool) -> list[Case]:
    def case(sub, logits, k, visible=True):
        return processor_case(sub, _top_k_oracle, (logits, k), logits_label(logits, k=k), visible)

    cases = [
        case("keeps", random_logits(1, 7, 0), 1),
        case("keeps", random_logits(3, 50, 1), 5),
        case("keeps", random_logits(2, 7, 2), 10),
        case("ties", tied_logits(), 1),
        case("ties", tied_logits(), 3),
        case("raises", random_logits(2, 9, 3), 0),
        case("raises", random_logits(2, 9, 10), -1),
    ]
    if hidden:
        cases += [
            case("keeps", random_logits(4, 1000, 4), 1, False),
            case("keeps", random_logits(4, 1000, 5), 50, False),
            case("keeps", random_logits(1, 7, 6), 6, False),
            case("keeps", random_logits(3, 50, 7), 50, False),
            case("keeps", after_top_k(3, 50, 8), 4, False),
            case("ties", tied_logits(), 7, False),
            case("ties", torch.zeros(2, 6), 2, False),
            case("raises", random_logits(2, 9, 9), -3, False),
        ]
    return cases


# The catalogue, in the order a match is named: each id is a file in mistakes/top_k/.
MISTAKES = (
    "keeps_k_minus_1",
    "drops_ties",
    "keeps_k_plus_1",
    "ascending_sort",
    "fills_zero",
    "returns_probabilities",
    "zero_disables",
    "k_above_vocabulary_crashes",
    "rejects_k_above_vocabulary",
    "only_zero_raises",
    "threshold_not_kept_2d",
    "returns_top_values",
    "threshold_unsorted",
    "fills_large_negative",
)

TOP_K = Exercise(
    name="top_k_filter",
    cell="top_k",
    test_cell="top_k_tests",
    points=2,
    subchecks=(
        SubCheck(
            "keeps",
            1.0,
            "keeps the k largest logits of each row unchanged and sets the others to -inf (k >= V keeps all)",
        ),
        SubCheck("ties", 0.5, "keeps every logit equal to the k-th largest (ties can keep more than k tokens)"),
        SubCheck("raises", 0.5, "k <= 0 raises ValueError"),
    ),
    cases=_top_k_cases,
    run=RUNNERS["top_k"],
    compare=processor_compare("top_k_filter"),
    forbidden=FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_top_k_filter(fn, hidden: bool = False) -> None:
    """Exercise 2, against Hugging Face's TopKLogitsWarper (ties included)."""
    check(TOP_K, fn, hidden)
