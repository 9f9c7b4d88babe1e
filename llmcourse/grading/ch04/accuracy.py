"""Exercise 7, ``accuracy(items) -> {"acc", "acc_norm", "acc_bytes"}``, against
lm-evaluation-harness's definitions (``process_results`` for multiple_choice), written in numpy."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from llmcourse.grading.contract import Case, Exercise, GradingError, SubCheck, check, kind_of, to_plain
from llmcourse.grading.kit import cases_once, catalogue
from llmcourse.grading.runners.ch04 import RUNNERS

from .common import CHOICE_FORBIDDEN, expect_number, short


def _acc_oracle(items: list[tuple[list[float], list[str], int]]) -> dict[str, float]:
    """lm-evaluation-harness's definitions (``ConfigurableTask.process_results``, multiple_choice, in
    lm-eval 0.4): per item ``np.argmax`` of the log-likelihoods, of them over ``len(choice)`` and over
    ``len(choice.encode("utf-8"))``, right when it is the gold index; each metric the mean over items."""
    per_item: dict[str, list[float]] = {"acc": [], "acc_norm": [], "acc_bytes": []}
    for item_lls, choices, gold in items:
        lls = np.array(item_lls, dtype=np.float64)
        completion_len = np.array([float(len(c)) for c in choices])
        byte_length = np.array([float(len(c.encode("utf-8"))) for c in choices])
        per_item["acc"].append(1.0 if np.argmax(lls) == gold else 0.0)
        per_item["acc_norm"].append(1.0 if np.argmax(lls / completion_len) == gold else 0.0)
        per_item["acc_bytes"].append(1.0 if np.argmax(lls / byte_length) == gold else 0.0)
    return {key: float(np.mean(values)) for key, values in per_item.items()}


_ACC_KEYS = {"acc": "acc", "norm": "acc_norm", "bytes": "acc_bytes"}

# Hand-made items. acc: the first item is right, the second right only after normalising, the third a tie
# that the first choice wins, the fourth wrong. norm: dividing by characters flips the first two items,
# counting the space or the words would not; the second case has non-ASCII letters (bytes would flip it).
# bytes: non-ASCII choices whose bytes and characters disagree, and one the raw score gets wrong.
_ACC_VISIBLE = {
    "acc": [
        [
            ([-3.2, -1.5, -4.0], ["cold", "warm", "hot"], 1),
            ([-2.0, -6.0, -2.5, -9.0], ["red", "a shade of blue", "green", "white"], 1),
            ([-5.0, -5.0, -7.0], ["Tuesday", "Monday", "Sunday"], 0),
            ([-0.5, -8.0], ["yes", "no"], 1),
        ],
        [
            ([-1.0, -3.0, -1.0, -1.0], ["one", "two", "three", "four"], 2),
            ([-4.0, -2.0], ["dog", "cat"], 1),
            ([-2.5, -2.5], ["up", "on"], 0),
        ],
    ],
    "norm": [
        [
            ([-6.0, -4.0], ["a big dog", "cat"], 0),
            ([-2.1, -4.0], ["ab", "abcd"], 1),
            ([-9.0, -5.0], ["to be or not", "question"], 1),
        ],
        [([-5.4, -6.3], ["naïve", "simple"], 1), ([-2.0, -6.0, -2.5], ["red", "a shade of blue", "green"], 1)],
    ],
    "bytes": [
        [
            ([-5.4, -6.3], ["naïve", "simple"], 0),
            ([-5.0, -4.2], ["über", "over"], 0),
            ([-6.0, -5.2], ["日本", "Japan"], 0),
            ([-3.0, -8.0], ["no", "not at all"], 1),
            ([-2.0, -3.3], ["ça", "cela"], 0),
        ],
    ],
}

_ACC_WORDS = (
    "cat",
    "dog",
    "a red fox",
    "the big brown bear",
    "yes",
    "no",
    "café",
    "naïve",
    "über",
    "Zürich",
    "façade",
    "日本",
    "東京の夜",
    "piñata",
    "crème brûlée",
    "Ελλάδα",
    "x",
    "it is raining",
    "Monday",
    "1 + 2 = 3",
)


def _acc_random(rng: random.Random, n_items: int) -> list[tuple[list[float], list[str], int]]:
    """Items whose scores grow with the choice's length (as real log-likelihoods do), so that the three
    metrics often disagree; no ties."""
    items = []
    for _ in range(n_items):
        choices = rng.sample(_ACC_WORDS, rng.randint(2, 5))
        scores = [-len(c.encode("utf-8")) * rng.uniform(0.2, 2.0) for c in choices]
        items.append((scores, choices, rng.randrange(len(choices))))
    return items


def _acc_label(items: list) -> str:
    return f"{len(items)} items: " + short([list(item) for item in items], 300)


def _acc_case(sub: str, items: list, visible: bool) -> Case:
    items = [(list(scores), list(choices), gold) for scores, choices, gold in items]
    return Case(sub, items, to_plain(_acc_oracle(items)), _acc_label(items), visible)


@cases_once
def _acc_cases(hidden: bool) -> list[Case]:
    cases = [_acc_case(sub, items, True) for sub, sets in _ACC_VISIBLE.items() for items in sets]
    if hidden:
        rng = random.Random(7)
        for n_items in (5, 12, 40):
            items = _acc_random(rng, n_items)
            cases += [_acc_case(sub, items, False) for sub in _ACC_KEYS]
        ties = [
            ([-2.0, -2.0, -3.0], ["b", "a", "c"], 0),
            ([-1.0, -4.0, -1.0], ["x", "y", "z"], 2),
            ([-7.0, -7.0], ["dog", "cat"], 1),
        ]
        cases.append(_acc_case("acc", ties, False))
    return cases


def _acc_compare(case: Case, got: Any, expected: Any) -> None:
    key = _ACC_KEYS[case.subcheck]
    if not (isinstance(got, dict) and "dict" in got):
        raise GradingError(
            f"accuracy for {case.label}: expected a dict with the keys 'acc', 'acc_norm' and 'acc_bytes', got "
            f"{kind_of(got)}"
        )
    if not (isinstance(expected, dict) and "dict" in expected):
        raise GradingError(f"accuracy for {case.label}: the result to compare with is {kind_of(expected)}, not a dict")
    if key not in got["dict"]:
        raise GradingError(f"accuracy for {case.label}: the dict has no key {key!r} (its keys: {sorted(got['dict'])})")
    expect_number(
        got["dict"][key],
        expected["dict"].get(key),
        what=f"accuracy's {key!r}",
        context=case.label,
        atol=1e-9,
        rtol=1e-9,
    )


# The catalogue, in the order a match is named: each id is a file in mistakes/accuracy/.
MISTAKES = (
    "acc_from_normalised",
    "norm_by_bytes",
    "bytes_by_characters",
    "norm_by_words",
    "norm_with_space",
    "percentages",
    "counts_not_fractions",
    "last_on_tie",
    "argmin",
    "length_over_score",
    "multiplied_by_length",
    "bytes_not_normalised",
)

ACCURACY = Exercise(
    name="accuracy",
    cell="accuracy",
    test_cell="accuracy_tests",
    points=2,
    subchecks=(
        SubCheck(
            "acc",
            1.0,
            "'acc': the fraction of items (between 0 and 1) whose highest log-likelihood is the gold "
            "choice's, the first one on a tie",
        ),
        SubCheck(
            "norm", 0.5, "'acc_norm': the same after dividing each log-likelihood by the choice's length in characters"
        ),
        SubCheck(
            "bytes",
            0.5,
            "'acc_bytes': the same after dividing each log-likelihood by the choice's length in UTF-8 bytes",
        ),
    ),
    cases=_acc_cases,
    run=RUNNERS["accuracy"],
    compare=_acc_compare,
    forbidden=CHOICE_FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_accuracy(fn, hidden: bool = False) -> None:
    """Exercise 7, against lm-evaluation-harness's definitions written with numpy. Hidden: random items, ties."""
    check(ACCURACY, fn, hidden)
