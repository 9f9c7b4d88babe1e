"""Exercise 5, ``apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty,
presence_penalty)``, against the OpenAI API's definition written as a loop over the tokens."""

from __future__ import annotations

import functools

import torch

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


def frequency_presence_loop(
    logits: torch.Tensor, generated_ids: torch.Tensor, frequency_penalty: float, presence_penalty: float
) -> torch.Tensor:
    """The OpenAI API's definition, one token at a time:
    ``logit[j] -= c[j] * frequency_penalty + (c[j] > 0) * presence_penalty``."""
    out = logits.clone()
    for b in range(logits.shape[0]):
        counts: dict[int, int] = {}
        for token in generated_ids[b].tolist():
            counts[token] = counts.get(token, 0) + 1
        for token, c in counts.items():
            out[b, token] = out[b, token] - (c * frequency_penalty + presence_penalty)
    return out


@functools.lru_cache(maxsize=2)
def _penalties_cases(hidden: bool) -> list[Case]:
    def case(sub, logits, ids, fp, pp, visible=True):
        label = logits_label(logits, generated_ids=ids, frequency_penalty=fp, presence_penalty=pp)
        return processor_case(sub, frequency_presence_loop, (logits, ids, fp, pp), label, visible)

    cases = [
        case("frequency", random_logits(1, 20, 0), repeated_ids(1, 20, 0, T=12), 0.5, 0.0),
        case("presence", random_logits(1, 20, 1), repeated_ids(1, 20, 1, T=12), 0.0, 0.8),
        case("together", random_logits(3, 50, 2), repeated_ids(3, 50, 2, T=12), 0.5, 0.3),
        case("together", random_logits(2, 20, 3), torch.zeros(2, 0, dtype=torch.long), 0.5, 0.5),
        case("inputs", random_logits(2, 20, 4), repeated_ids(2, 20, 4), 0.5, 0.3),
    ]
    if hidden:
        cases += [
            # frequency and presence: one row, as their visible cases (rows are the together requirement's)
            case("frequency", random_logits(1, 1000, 5), repeated_ids(1, 1000, 5, T=30), 1.2, 0.0, False),
            case("presence", random_logits(1, 1000, 6), repeated_ids(1, 1000, 6, T=30), 0.0, 1.5, False),
            case("together", random_logits(4, 100, 7), repeated_ids(4, 100, 7, T=20), -0.4, -0.2, False),
            case("together", random_logits(3, 50, 8), distinct_ids(3, 50, 8), 0.7, 0.1, False),
            case("inputs", random_logits(3, 50, 9), repeated_ids(3, 50, 9), 1.0, 1.0, False),
        ]
    return cases


# The catalogue, in the order a match is named: each id is a file in mistakes/frequency_presence/.
MISTAKES = (
    "presence_per_occurrence",
    "scatter_not_add",
    "adds_penalties",
    "swapped",
    "batch_counts",
    "modifies_input",
    "presence_for_every_token",
    "first_row_counts",
    "bincount_without_minlength",
    "one_hot_without_num_classes",
    "counts_dtype",
    "presence_only_repeated",
)

PENALTIES = Exercise(
    name="apply_frequency_presence_penalties",
    cell="frequency_presence",
    test_cell="frequency_presence_tests",
    points=2.5,
    subchecks=(
        SubCheck("frequency", 1.0, "subtracts count * frequency_penalty from the logit of each token of generated_ids"),
        SubCheck("presence", 0.5, "subtracts presence_penalty once from the logit of each token that occurs at all"),
        SubCheck(
            "together", 0.5, "both penalties at once, each row counting its own tokens (none yet: logits unchanged)"
        ),
        SubCheck("inputs", 0.5, "returns a new tensor and leaves the logits passed in unchanged"),
    ),
    cases=_penalties_cases,
    run=RUNNERS["frequency_presence"],
    compare=processor_compare("apply_frequency_presence_penalties"),
    forbidden=FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_apply_frequency_presence_penalties(fn, hidden: bool = False) -> None:
    """Exercise 5, against the OpenAI API's definition written as a loop."""
    check(PENALTIES, fn, hidden)
