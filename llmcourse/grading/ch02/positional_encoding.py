"""Exercise 4, ``sinusoidal_positional_encoding(num_positions, d_model)``, against the formula
evaluated entry by entry in float64."""

from __future__ import annotations

from typing import Any

import torch

from llmcourse.grading.contract import Case, Exercise, Forbidden, GradingError, SubCheck, check, expect_tensor, to_plain
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch02 import RUNNERS
from llmcourse.grading.wire import known_tensor_meta, tensor_meta

from .common import REFERENCE


def _pe_expected(P: int, D: int) -> torch.Tensor:
    """The formula, entry by entry in float64."""
    pos = torch.arange(P, dtype=torch.float64).unsqueeze(1)  # (P, 1)
    i = torch.arange(D, dtype=torch.float64).unsqueeze(0)  # (1, D)
    angle = pos / torch.pow(10000.0, 2 * torch.div(i, 2, rounding_mode="floor") / D)
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))


def _pe_cases(hidden: bool) -> list[Case]:
    sizes = {
        # an even d_model here: an odd one is the odd requirement's (a shape case with an odd
        # d_model would charge the odd columns' mistakes to the shape as well)
        "shape": [(3, 4, True), (5, 6, True), (1, 2, False), (17, 10, False), (1, 64, False)],
        "values": [(6, 8, True), (50, 32, False), (200, 64, False), (128, 512, False)],
        "odd": [(6, 5, True), (10, 1, False), (50, 33, False)],
    }
    return [
        Case(sub, (P, D), to_plain(_pe_expected(P, D)), f"num_positions={P}, d_model={D}", visible)
        for sub, all_sizes in sizes.items()
        for P, D, visible in all_sizes
        if visible or hidden
    ]


def _pe_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "shape":
        meta = tensor_meta(got)
        if meta is None:
            raise GradingError(f"expected a torch.Tensor for {case.label}, got {type(got).__name__}")
        shape, dtype = meta.shape, meta.dtype
        want = known_tensor_meta(expected).shape
        if shape != want:
            raise GradingError(f"positional encoding for {case.label}: expected shape {want}, got {shape}")
        if not dtype.startswith(("float", "bfloat")):
            raise GradingError(f"positional encoding for {case.label}: expected a float tensor, got dtype {dtype}")
        return
    expect_tensor(got, expected, what="positional encoding", context=case.label, atol=1e-5, rtol=1e-4)


# The catalogue, in the order a match is named: each id is a file in mistakes/positional_encoding/.
MISTAKES = (
    "sin_cos_swapped",
    "exponent_i",
    "positions_from_one",
    "halves",
    "transposed",
    "base_1000",
    "multiplied",
    "integer_exponent",
    "precedence",
    "odd_last_column_zero",
    "odd_cosines_too_many",
    "integer_tensor",
)

POSITIONAL_ENCODING = Exercise(
    name="sinusoidal_positional_encoding",
    cell="positional_encoding",
    test_cell="positional_encoding_tests",
    points=2,
    subchecks=(
        SubCheck("shape", 0.5, "returns a float tensor of shape (num_positions, d_model)"),
        SubCheck(
            "values", 1.0, "even columns are sines, odd columns cosines of pos / 10000^(2i/d_model), positions from 0"
        ),
        SubCheck("odd", 0.5, "when d_model is odd, the last column is a sine"),
    ),
    cases=_pe_cases,
    run=RUNNERS["positional_encoding"],
    compare=_pe_compare,
    forbidden=Forbidden(
        python=(f"{REFERENCE}:sinusoidal_positional_encoding",), names=("sinusoidal_positional_encoding", REFERENCE)
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_positional_encoding(fn, hidden: bool = False) -> None:
    """Exercise 4. Visible: each requirement on small sizes; hidden: more sizes."""
    check(POSITIONAL_ENCODING, fn, hidden)
