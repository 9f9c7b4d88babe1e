"""Issue 16, item 4: a wrong answer that matches no catalogued mistake still hears how its
values differ, in terms of the requirement: a factor, a sign, an offset, a transpose, a shift,
a flip, a per-row factor, or which rows."""

import math

import numpy as np
import pytest
import torch

from llmcourse.grading import GradingError
from llmcourse.grading.contract import expect_float, expect_tensor, how_values_differ, to_plain

RNG = np.random.default_rng(0)
E = RNG.standard_normal((2, 5, 5))


def _hint(got: np.ndarray, expected: np.ndarray = E) -> str:
    with pytest.raises(GradingError) as failed:
        expect_tensor(to_plain(torch.from_numpy(got)), to_plain(torch.from_numpy(expected)), what="output")
    return str(failed.value)


@pytest.mark.parametrize(
    "got, words",
    [
        (E * math.sqrt(8), "2.828 = sqrt(8) times the expected one"),
        (E / math.sqrt(64), "0.125 = 1/8 times"),
        (-E, "opposite sign"),
        (E + 0.5, "the expected one + 0.5"),
        (np.swapaxes(E, -1, -2), "dimensions -2 and -1 swapped"),
        (np.flip(E, -1).copy(), "reversed along dimension -1"),
        (np.concatenate([E[:, :, :1], E[:, :, :-1]], axis=-1), "shifted by 1 position along dimension -1"),
        (E * np.array([2.0, 3.0, 4.0, 5.0, 6.0])[:, None], "a different factor per row"),
        (
            np.where(np.arange(5)[:, None] == 3, 0.0, E),
            "2 of 10 rows (flattened over every dimension but the last) differ: 3, 8",
        ),
    ],
)
def test_the_hint_names_the_relation(got, words):
    message = _hint(got)
    assert "hint: " in message and words in message, message


def test_no_hint_when_nothing_simple_explains_it():
    assert how_values_differ(RNG.standard_normal(20), RNG.standard_normal(20), np.ones(20, bool)) == ""


def test_a_float_says_the_ratio():
    with pytest.raises(GradingError, match=r"got 2\.82843 \(2\.828 = sqrt\(8\) times the expected value\)"):
        expect_float(to_plain(2 * math.sqrt(2)), 1.0, what="loss")
