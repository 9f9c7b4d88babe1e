"""Exercise 2, ``sft_loss(logits, labels) -> loss``, against ``F.cross_entropy`` in float64 on
``logits[:, :-1]`` and ``labels[:, 1:]`` with ``ignore_index=-100``: what
``GPT2LMHeadModel(input_ids, labels=labels)`` computes (``tests/test_grading_ch07.py`` checks the
oracle against the model's own loss)."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

# Imported here, not when a check runs: the grading engine's server imports this module once,
# so the students' processes (whose guards name these functions) start with them loaded.
import transformers.loss.loss_utils  # noqa: F401

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    array_of,
    check,
    expect_float,
    expect_tensor,
    float_of,
    kind_of,
    to_plain,
    values_of,
)
from llmcourse.grading.kit import catalogue, seeded
from llmcourse.grading.runners.ch07 import RUNNERS
from llmcourse.grading.wire import is_tuple, tensor_meta, tuple_items

from .common import FINETUNE, numpy_of


def _sft_expected(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    wide = logits.detach().double().requires_grad_()
    V = logits.shape[-1]
    loss = F.cross_entropy(wide[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    (grad,) = torch.autograd.grad(loss, wide)
    return loss.detach(), grad


def _sft_case(
    sub: str,
    seed: int,
    B: int,
    T: int,
    V: int,
    prompts: list[int] | None,
    reals: list[int] | None,
    visible: bool,
    dtype: torch.dtype = torch.float32,
) -> Case:
    g = seeded(seed)
    logits = (torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2).to(dtype)
    labels = torch.randint(V, (B, T), generator=g)
    for b in range(B):
        if prompts is not None:
            labels[b, : prompts[b]] = -100
        if reals is not None:
            labels[b, reals[b] :] = -100
    loss, grad = _sft_expected(logits, labels)
    expected = to_plain((loss, grad)) if sub == "scalar" else to_plain(loss)
    label = (
        f"logits ({B}, {T}, {V}) {str(dtype).removeprefix('torch.')}, "
        f"labels {labels.tolist() if B * T <= 24 else (B, T)}"
    )
    return Case(sub, (numpy_of(logits), numpy_of(labels), sub == "scalar"), expected, label, visible)


def _sft_cases(hidden: bool) -> list[Case]:
    cases = [
        _sft_case("shift", 0, 1, 5, 7, None, None, True),
        _sft_case("shift", 1, 2, 4, 9, None, None, True),
        _sft_case("ignore", 2, 2, 6, 7, [2, 3], [6, 4], True),
        _sft_case("ignore", 3, 3, 5, 6, [1, 3, 2], [4, 5, 3], True),
        _sft_case("scalar", 4, 2, 5, 5, [2, 1], [5, 4], True),
    ]
    if hidden:
        cases += [
            _sft_case("shift", 10, 4, 16, 50, None, None, False),
            _sft_case("shift", 11, 2, 7, 11, None, None, False, torch.float64),
            _sft_case("ignore", 12, 4, 12, 30, [3, 5, 2, 7], [12, 9, 6, 10], False),
            _sft_case("ignore", 13, 2, 9, 13, [6, 2], [9, 9], False),
            _sft_case("ignore", 14, 3, 8, 40, [1, 6, 3], [4, 8, 5], False, torch.float64),
            _sft_case("scalar", 15, 3, 6, 9, None, None, False),
            _sft_case("scalar", 16, 2, 8, 12, [3, 2], [8, 6], False),
        ]
    return cases


def _same_loss(got: Any, expected: Any, case: Case) -> None:
    """The loss must be the expected number; a catalogued mistake's result may be no number (a
    tensor of every token's loss): then the same kind of result with the same values."""
    if float_of(expected) is not None or array_of(expected) is None:
        expect_float(got, cast(float, float_of(expected)), what="loss", context=case.label, atol=1e-5, rtol=1e-5)
        return
    if kind_of(got) != kind_of(expected):
        raise GradingError("different kinds of result")
    expect_tensor(got, expected, what="loss", context=case.label, atol=1e-5, rtol=1e-5)


def _sft_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck != "scalar":
        _same_loss(got, expected, case)
        return
    loss, grad = tuple_items(got) if is_tuple(got) else (got, None)
    loss_e, grad_e = tuple_items(expected)
    if grad_e is None:  # comparing with a catalogued mistake that returns no usable tensor
        if kind_of(loss) != kind_of(loss_e) or grad is not None:
            raise GradingError("different kinds of result")
        _same_loss(loss, loss_e, case)
        return
    # What the requirement states: a 0-dim float tensor with a gradient that reaches the logits. Its
    # value, and the gradient's, are the "shift" and "ignore" requirements' (judged by their cases).
    meta = tensor_meta(loss)
    if meta is None or not meta.has_shape(()):
        raise GradingError(
            f"sft_loss must return a 0-dim torch.Tensor (so that loss.backward() trains the model), "
            f"got {kind_of(loss)} for {case.label}"
        )
    if not meta.dtype.startswith(("float", "bfloat")):
        raise GradingError(f"sft_loss must return a float tensor, got torch.{meta.dtype} for {case.label}")
    if grad is None:
        raise GradingError(
            f"no gradient reaches the logits through your loss for {case.label} (.item(), .detach(), "
            "torch.tensor(...) or .data cut the graph)"
        )
    g = array_of(grad)
    if g is None or g.shape != values_of(grad_e).shape or not np.isfinite(g).all() or not g.any():
        raise GradingError(
            f"the gradient of your loss with respect to the logits is zero or not finite for {case.label}: "
            "the loss must be computed from the logits"
        )


# The catalogue, in the order a match is named: each id is a file in mistakes/sft_loss/.
MISTAKES = (
    "no_shift",
    "shift_wrong_way",
    "mean_all_positions",
    "mean_per_sequence",
    "sum",
    "ignore_not_skipped",
    "item",
    "detached",
    "nll_on_logits",
    "softmax_over_time",
    "per_token",
    "count_unshifted",
)

SFT_LOSS = Exercise(
    name="sft_loss",
    cell="sft_loss",
    test_cell="sft_loss_tests",
    points=3,
    subchecks=(
        SubCheck(
            "shift",
            1.0,
            "the logits at position t are scored against labels[:, t + 1] (logits[:, :-1] against "
            "labels[:, 1:]), as GPT2LMHeadModel's loss with labels",
        ),
        SubCheck(
            "ignore",
            1.0,
            "labels equal to -100 are skipped; the mean is over the counted tokens of the whole batch "
            "(not per sequence, not over every position)",
        ),
        SubCheck("scalar", 1.0, "returns a 0-dim float tensor whose gradient reaches the logits"),
    ),
    cases=_sft_cases,
    run=RUNNERS["sft_loss"],
    compare=_sft_compare,
    forbidden=Forbidden(
        python=(
            f"{FINETUNE}:sft_loss",
            "transformers.loss.loss_utils:ForCausalLMLoss",
            "transformers.loss.loss_utils:fixed_cross_entropy",
        ),
        names=(FINETUNE, "ForCausalLMLoss", "fixed_cross_entropy", "loss_function", "LOSS_MAPPING"),
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_sft_loss(fn, hidden: bool = False) -> None:
    """Exercise 2, against the loss GPT2LMHeadModel returns with these labels. Hidden: more shapes and float64."""
    check(SFT_LOSS, fn, hidden)
