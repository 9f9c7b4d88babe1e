"""Exercise 1, ``patchify(images, patch_size) -> (B, N, C*p*p)``, against ``F.unfold(images, p,
stride=p).transpose(1, 2)``."""

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
    check,
    expect_tensor,
    kind_of,
    to_plain,
)
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch08 import RUNNERS
from llmcourse.grading.wire import tensor_meta

from .common import CONV_NAMES, REFERENCE, UNFOLD_ATEN, UNFOLD_TORCH, random_images


def _label(images: np.ndarray, p: int) -> str:
    return f"images {tuple(images.shape)}, patch_size={p}"


def _patchify_case(sub, seed, B, C, H, W, p, visible) -> Case:
    images = random_images(seed, B, C, H, W)
    if sub == "error":
        return Case(sub, (images, p), "ValueError", _label(images, p), visible)
    patches = F.unfold(torch.from_numpy(images).double(), p, stride=p).transpose(1, 2)  # (B, N, C*p*p)
    return Case(sub, (images, p), to_plain(patches.float()), _label(images, p), visible)


def _patchify_cases(hidden: bool) -> list[Case]:
    cases = [
        _patchify_case("shape", 0, 2, 3, 4, 4, 2, True),
        _patchify_case("shape", 1, 1, 1, 6, 9, 3, True),
        _patchify_case("order", 2, 2, 1, 4, 6, 2, True),
        _patchify_case("order", 3, 2, 3, 4, 4, 2, True),
        _patchify_case("error", 4, 1, 3, 5, 4, 2, True),
        _patchify_case("error", 5, 1, 1, 4, 6, 4, True),  # W is the one that is not a multiple
    ]
    if hidden:
        for n, (B, C, H, W, p) in enumerate(
            [(1, 1, 2, 2, 2), (3, 2, 8, 4, 4), (2, 3, 9, 6, 3), (1, 4, 12, 16, 4), (2, 3, 32, 32, 8)]
        ):
            cases += [
                _patchify_case("shape", 10 + n, B, C, H, W, p, False),
                _patchify_case("order", 20 + n, B, C, H, W, p, False),
            ]
        cases += [
            _patchify_case("error", 30, 2, 1, 4, 7, 2, False),
            _patchify_case("error", 31, 1, 3, 9, 9, 2, False),
            _patchify_case("error", 32, 1, 1, 16, 16, 5, False),
        ]
    return cases


def _patchify_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "error":
        if got != expected:
            raise GradingError(
                f"patchify with {case.label}: the image size is not a multiple of the patch size, "
                f"expected a ValueError, got {got if isinstance(got, str) else kind_of(got)}"
            )
        return
    meta = tensor_meta(got)
    if meta is None:
        raise GradingError(f"patchify with {case.label}: expected a torch.Tensor, got {kind_of(got)}")
    if case.subcheck == "shape":
        want = tensor_meta(expected)
        if want is None or not meta.has_shape(want.shape):
            shape = want.shape if want is not None else ()
            raise GradingError(f"patchify with {case.label}: expected shape (B, N, C*p*p) = {shape}, got {meta.shape}")
        return
    expect_tensor(got, expected, what="patches (B, N, C*p*p)", context=case.label, atol=1e-6, rtol=1e-5)


# The catalogue, in the order a match is named: each id is a file in mistakes/patchify/.
MISTAKES = (
    "channels_last",
    "column_order",
    "no_error",
    "transposed",
    "reshape_only",
    "patch_transposed",
    "height_only",
    "width_only",
    "assert",
    "square_only",
    "view_after_permute",
    "pads",
)

PATCHIFY = Exercise(
    name="patchify",
    cell="patchify",
    test_cell="patchify_tests",
    points=3,
    subchecks=(
        SubCheck("shape", 0.5, "returns (B, N, C*p*p) with N = (H/p) * (W/p), also for non-square images"),
        SubCheck(
            "order", 1.5, "patches row by row over the grid, each flattened as (channel, row, column): F.unfold's order"
        ),
        SubCheck("error", 1.0, "raises ValueError when H or W is not a multiple of patch_size"),
    ),
    cases=_patchify_cases,
    run=RUNNERS["patchify"],
    compare=_patchify_compare,
    forbidden=Forbidden(
        torch=UNFOLD_TORCH,
        aten=UNFOLD_ATEN,
        python=(f"{REFERENCE}:patchify", "torch.nn:Conv2d", "torch.nn:Unfold"),
        names=CONV_NAMES,
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_patchify(fn, hidden: bool = False) -> None:
    """Exercise 1, against ``F.unfold``. Hidden: more sizes, channels and patch sizes."""
    check(PATCHIFY, fn, hidden)
