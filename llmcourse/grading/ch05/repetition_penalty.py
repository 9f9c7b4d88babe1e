"""Exercise 4, ``apply_repetition_penalty(logits, generated_ids, penalty)``, against Hugging
Face's ``RepetitionPenaltyLogitsProcessor`` (CTRL's penalty)."""

from __future__ import annotations

import functools

import torch
from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

from llmcourse.grading.contract import Case, Exercise, SubCheck, check
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch05 import RUNNERS

from .common import (
    FORBIDDEN,
    distinct_ids,
    logits_label,
    processor_case,
    processor_compare,
    random_logits,
    repeated_ids,
)


def _repetition_oracle(logits, ids, penalty):
    return RepetitionPenaltyLogitsProcessor(float(penalty))(ids, logits)


@functools.lru_cache(maxsize=2)
def _repetition_cases(hidden: bool) -> list[Case]:
    def case(sub, logits, ids, penalty, visible=True):
        return processor_case(
            sub,
            _repetition_oracle,
            (logits, ids, penalty),
            logits_label(logits, generated_ids=ids, penalty=penalty),
            visible,
        )

    cases = [
        case("sign", random_logits(1, 30, 0), distinct_ids(1, 30, 0), 1.3),
        case("sign", random_logits(2, 30, 1), distinct_ids(2, 30, 1), 0.8),
        case("once", random_logits(1, 20, 2), repeated_ids(1, 20, 2), 1.5),
        case("rows", random_logits(3, 50, 3), repeated_ids(3, 50, 3), 1.3),
        case("inputs", random_logits(2, 20, 4), repeated_ids(2, 20, 4), 1.3),
    ]
    if hidden:
        cases += [
            case("sign", random_logits(4, 1000, 5), distinct_ids(4, 1000, 5, T=30), 2.0, False),
            case("sign", random_logits(3, 50, 6), distinct_ids(3, 50, 6), 1.0, False),
            case("once", random_logits(2, 30, 7), repeated_ids(2, 30, 7, T=20), 1.2, False),
            # once and rows: penalties above 1, as their visible cases (below 1 is the sign requirement's)
            case("once", random_logits(1, 7, 8), torch.tensor([[3, 3, 3, 3]]), 2.5, False),
            case("rows", random_logits(4, 1000, 9), repeated_ids(4, 1000, 9, T=12), 1.6, False),
            case("inputs", random_logits(3, 50, 10), distinct_ids(3, 50, 10), 1.3, False),
        ]
    return cases


# The catalogue, in the order a match is named: each id is a file in mistakes/repetition_penalty/.
MISTAKES = (
    "once_per_occurrence",
    "always_divides",
    "sign_swapped",
    "batch_mixed",
    "subtracts",
    "modifies_input",
    "always_multiplies",
    "first_row_ids",
    "returns_seen_only",
    "rejects_penalty_below_1",
    "repeated_only",
    "last_token_only",
)

REPETITION = Exercise(
    name="apply_repetition_penalty",
    cell="repetition_penalty",
    test_cell="repetition_penalty_tests",
    points=2.5,
    subchecks=(
        SubCheck(
            "sign",
            1.0,
            "the logit of every token in generated_ids is divided by the penalty if positive, multiplied by it if "
            "negative; other logits unchanged",
        ),
        SubCheck("once", 0.5, "a token is penalised once, however often it occurs"),
        SubCheck("rows", 0.5, "each row is penalised for the tokens of its own row of generated_ids"),
        SubCheck("inputs", 0.5, "returns a new tensor and leaves the logits passed in unchanged"),
    ),
    cases=_repetition_cases,
    run=RUNNERS["repetition_penalty"],
    compare=processor_compare("apply_repetition_penalty"),
    forbidden=FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_apply_repetition_penalty(fn, hidden: bool = False) -> None:
    """Exercise 4, against Hugging Face's RepetitionPenaltyLogitsProcessor."""
    check(REPETITION, fn, hidden)
