"""Exercise 1, ``causal_mask(T) -> (T, T) bool tensor``, against the keys PyTorch's fused
attention lets each query see with ``F.scaled_dot_product_attention(..., is_causal=True)``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    array_of,
    check,
    expect_tensor,
    kind_of,
    to_plain,
)
from llmcourse.grading.kit import cases_once, catalogue
from llmcourse.grading.runners.ch03 import RUNNERS
from llmcourse.grading.wire import known_tensor_meta, tensor_meta

from .common import ATTENTION


def _mask_expected(T: int) -> torch.Tensor:
    """Which keys PyTorch's fused attention lets each query see with ``is_causal=True``: with
    equal scores, the weights are uniform over the allowed keys and 0 elsewhere."""
    zeros = torch.zeros(1, T, 1, dtype=torch.float64)
    weights = F.scaled_dot_product_attention(zeros, zeros, torch.eye(T, dtype=torch.float64)[None], is_causal=True)[0]
    return weights > 0


@cases_once
def _mask_cases(hidden: bool) -> list[Case]:
    sizes = {
        "shape": [(3, True), (5, True), (1, False), (17, False), (64, False)],
        # 160 is visible: above a buffer of a fixed size (128) that a mask may be sliced from
        "values": [(4, True), (6, True), (160, True), (1, False), (2, False), (33, False), (128, False), (512, False)],
    }
    return [
        Case(sub, T, to_plain(_mask_expected(T)), f"T={T}", visible)
        for sub, all_sizes in sizes.items()
        for T, visible in all_sizes
        if visible or hidden
    ]


def _mask_compare(case: Case, got: Any, expected: Any) -> None:
    meta = tensor_meta(got)
    if meta is None:
        raise GradingError(f"causal_mask({case.inputs}): expected a torch.Tensor, got {kind_of(got)}")
    if case.subcheck == "shape":
        want = known_tensor_meta(expected)
        want_shape, want_dtype = want.shape, want.dtype
        shape, dtype = meta.shape, meta.dtype
        if meta.kind != want.kind:
            raise GradingError(f"causal_mask({case.inputs}): expected a torch.Tensor, got a {meta.kind}")
        if shape != want_shape or dtype != want_dtype:
            raise GradingError(
                f"causal_mask({case.inputs}): expected a torch.{want_dtype} tensor of shape {want_shape}, "
                f"got torch.{dtype} of shape {shape}"
            )
        return
    # the values alone (what kind of tensor it is, its dtype, is the shape requirement's)
    values = to_plain(torch.from_numpy(np.array(array_of(got))))
    expect_tensor(
        values, expected, what="causal mask (compared as numbers, True = 1)", context=case.label, atol=0, rtol=0
    )


# The catalogue, in the order a match is named: each id is a file in mistakes/causal_mask/.
MISTAKES = (
    "future",
    "no_self",
    "blocked_convention",
    "float",
    "uint8",
    "additive",
    "buffer_shape",
    "int64",
    "sees_next",
    "fixed_buffer",
    "numpy",
    "all_true",
)

CAUSAL_MASK = Exercise(
    name="causal_mask",
    cell="causal_mask",
    test_cell="causal_mask_tests",
    points=2,
    subchecks=(
        SubCheck("shape", 0.5, "returns a torch.bool tensor of shape (T, T)"),
        SubCheck(
            "values", 1.5, "entry [i, j] is True exactly when j <= i: each token sees itself and the tokens before it"
        ),
    ),
    cases=_mask_cases,
    run=RUNNERS["causal_mask"],
    compare=_mask_compare,
    forbidden=Forbidden(python=(f"{ATTENTION}:causal_mask",), names=(ATTENTION,)),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_causal_mask(fn, hidden: bool = False) -> None:
    """Exercise 1. Visible: small sizes; hidden: T = 1 up to 512."""
    check(CAUSAL_MASK, fn, hidden)
