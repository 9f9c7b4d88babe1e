"""Exercise 1, ``apply_temperature(logits, temperature)``, against Hugging Face's
``TemperatureLogitsWarper``."""

from __future__ import annotations

import functools

from transformers.generation.logits_process import TemperatureLogitsWarper

from llmcourse.grading.contract import Case, Exercise, SubCheck, check
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch05 import RUNNERS

from .common import FORBIDDEN, after_top_k, hf_processor, logits_label, processor_case, processor_compare, random_logits

_temperature_oracle = hf_processor(lambda t: TemperatureLogitsWarper(float(t)))


@functools.lru_cache(maxsize=2)
def _temperature_cases(hidden: bool) -> list[Case]:
    def case(sub, logits, t, visible=True):
        return processor_case(sub, _temperature_oracle, (logits, t), logits_label(logits, temperature=t), visible)

    cases = [
        case("values", random_logits(1, 7, 0), 0.5),
        case("values", random_logits(3, 50, 1), 2.0),
        case("values", random_logits(2, 9, 2), 1.0),
        case("values", after_top_k(3, 50, 3), 0.7),
        case("raises", random_logits(2, 9, 4), 0.0),
        case("raises", random_logits(2, 9, 12), -0.5),
        case("inputs", random_logits(2, 9, 5), 0.5),
    ]
    if hidden:
        cases += [
            case("values", random_logits(4, 1000, 6), 0.5, False),
            case("values", random_logits(4, 1000, 7), 7.0, False),
            case("values", random_logits(2, 64, 8), 1e-3, False),
            case("values", random_logits(1, 1, 9), 1.5, False),
            case("raises", random_logits(2, 9, 10), -3.0, False),
            case("inputs", random_logits(4, 100, 11), 2.0, False),
        ]
    return cases


# The catalogue, in the order a match is named: each id is a file in mistakes/temperature/.
MISTAKES = (
    "multiplies",
    "after_softmax",
    "returns_probabilities",
    "no_error_for_zero",
    "zero_means_greedy",
    "modifies_input",
    "only_zero_raises",
    "asserts",
    "zero_returns_input",
    "returns_log_probabilities",
    "shifts_by_max",
    "replaces_inf",
)

TEMPERATURE = Exercise(
    name="apply_temperature",
    cell="temperature",
    test_cell="temperature_tests",
    points=2,
    subchecks=(
        SubCheck(
            "values",
            1.0,
            "returns the logits divided by the temperature, (B, V), for T < 1, T = 1, T > 1 and logits with -inf",
        ),
        SubCheck("raises", 0.5, "temperature <= 0 raises ValueError"),
        SubCheck("inputs", 0.5, "returns a new tensor and leaves the logits passed in unchanged"),
    ),
    cases=_temperature_cases,
    run=RUNNERS["temperature"],
    compare=processor_compare("apply_temperature"),
    forbidden=FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_apply_temperature(fn, hidden: bool = False) -> None:
    """Exercise 1, against Hugging Face's TemperatureLogitsWarper."""
    check(TEMPERATURE, fn, hidden)
