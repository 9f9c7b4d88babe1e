"""Exercise 2, ``causal_lm_loss(logits, input_ids, attention_mask=None) -> 0-dim tensor``,
against ``F.cross_entropy`` in float64 on the shifted labels with the padding labelled -100: what
``GPT2LMHeadModel(input_ids, labels=...)`` computes (``tests/test_grading_ch03.py`` checks the
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
    float_of,
    kind_of,
    to_plain,
    values_of,
)
from llmcourse.grading.kit import cases_once, catalogue, seeded
from llmcourse.grading.runners.ch03 import RUNNERS
from llmcourse.grading.wire import is_tuple, tensor_meta, tuple_items

from .common import as_array

LOSSES = "llmcourse.losses"


def _loss_expected(
    logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hugging Face's recipe in float64: labels = input_ids with padding -100, shifted inside."""
    labels = ids if mask is None else ids.masked_fill(mask == 0, -100)
    wide = logits.detach().double().requires_grad_()
    V = logits.shape[-1]
    loss = F.cross_entropy(wide[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    (grad,) = torch.autograd.grad(loss, wide)
    return loss.detach(), grad


def _pad(kind: str, B: int, T: int, real: list[int] | None, g: torch.Generator) -> torch.Tensor | None:
    """A (B, T) long mask: ``real[b]`` tokens in row b, right- or left-padded ("both": even rows
    right, odd rows left). A right-padded row of n tokens has n - 1 predictions that count, a
    left-padded one n (its first token is predicted from padding, and counts, as in Hugging Face)."""
    if kind == "none":
        return None
    assert real is not None, "a padded case lists its rows' real lengths"
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(real):
        side = kind if kind in ("right", "left") else ("right" if b % 2 == 0 else "left")
        if side == "right":
            mask[b, :n] = 1
        else:
            mask[b, T - n :] = 1
    return mask


def _loss_case(
    sub: str,
    seed: int,
    B: int,
    T: int,
    V: int,
    pad: str,
    real: list[int] | None,
    visible: bool,
    dtype: torch.dtype = torch.float32,
) -> Case:
    g = seeded(seed)
    logits = (torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2).to(dtype)
    ids = torch.randint(V, (B, T), generator=g)
    mask = _pad(pad, B, T, real, g)
    # Token 0 is also the padding id here (as with GPT-2's end-of-text token): make sure real text
    # contains it as a target, so that skipping every 0 is not the same as skipping the padding.
    for b in range(B):
        positions = [t for t in range(1, T) if mask is None or (mask[b, t] == 1)]
        if positions:
            ids[b, positions[len(positions) // 2]] = 0
    if mask is not None:
        ids = ids.masked_fill(mask == 0, 0)
    loss, grad = _loss_expected(logits, ids, mask)
    expected = to_plain((loss, grad)) if sub == "scalar" else to_plain(loss)
    label = f"logits ({B}, {T}, {V}) {str(dtype).removeprefix('torch.')}, input_ids ({B}, {T})"
    if mask is None:
        label += ", no attention_mask"
    else:
        label += f", attention_mask {mask.tolist() if B * T <= 24 else '(' + str(B) + ', ' + str(T) + ')'}"
    return Case(sub, (as_array(logits), as_array(ids), as_array(mask), sub == "scalar"), expected, label, visible)


@cases_once
def _loss_cases(hidden: bool) -> list[Case]:
    cases = [
        _loss_case("shift", 0, 1, 5, 7, "none", None, True),
        _loss_case("shift", 1, 2, 4, 9, "none", None, True),
        _loss_case("padding", 2, 2, 5, 7, "both", [4, 3], True),
        _loss_case("padding", 3, 3, 4, 6, "right", [2, 2, 2], True),
        _loss_case("mean", 4, 2, 6, 7, "both", [6, 2], True),
        _loss_case("mean", 5, 3, 5, 8, "right", [5, 3, 2], True),
        _loss_case("scalar", 6, 2, 5, 5, "both", [4, 3], True),
    ]
    if hidden:
        cases += [
            _loss_case("shift", 10, 1, 2, 3, "none", None, False),
            _loss_case("shift", 11, 4, 16, 50, "none", None, False),
            _loss_case("shift", 12, 3, 9, 1000, "none", None, False),
            _loss_case("shift", 13, 2, 7, 11, "none", None, False, torch.float64),
            _loss_case("padding", 14, 4, 12, 30, "both", [8, 7, 8, 7], False),
            _loss_case("padding", 15, 2, 9, 13, "left", [4, 4], False),
            _loss_case("padding", 16, 3, 6, 10, "right", [6, 6, 6], False),  # a mask of ones
            _loss_case("mean", 17, 4, 10, 21, "both", [10, 3, 7, 2], False),
            _loss_case("mean", 18, 3, 8, 40, "left", [8, 2, 5], False),
            _loss_case("mean", 19, 2, 11, 17, "right", [11, 4], False, torch.float64),
            _loss_case("scalar", 20, 3, 6, 9, "none", None, False),
            _loss_case("scalar", 21, 2, 8, 12, "both", [8, 7], False),
        ]
    return cases


def _loss_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck != "scalar":
        value = cast(float, float_of(expected))  # None only for a catalogued mistake's result: no match
        expect_float(got, value, what="loss", context=case.label, atol=1e-5, rtol=1e-5)
        return
    loss, grad = tuple_items(got) if is_tuple(got) else (got, None)
    loss_e, grad_e = tuple_items(expected)
    if grad_e is None:  # comparing with a catalogued mistake that returns no usable tensor
        if kind_of(loss) != kind_of(loss_e) or grad is not None:
            raise GradingError("different kinds of result")
        expect_float(loss, cast(float, float_of(loss_e)), what="loss", context=case.label, atol=1e-5, rtol=1e-5)
        return
    meta = tensor_meta(loss)
    if meta is None or not meta.has_shape(()):
        raise GradingError(
            f"causal_lm_loss must return a 0-dim torch.Tensor (so that loss.backward() trains the model), "
            f"got {kind_of(loss)} for {case.label}"
        )
    if not meta.dtype.startswith(("float", "bfloat")):
        raise GradingError(f"the loss must be a floating-point tensor, got dtype {meta.dtype} for {case.label}")
    # This requirement is the kind of result and the graph, not the value: a wrong value is the
    # shift's, the padding's or the mean's to charge.
    gradient = array_of(grad) if grad is not None else None
    if (
        gradient is None
        or gradient.shape != values_of(grad_e).shape
        or not np.isfinite(gradient).all()
        or not gradient.any()
    ):
        raise GradingError(
            f"no gradient reaches the logits through your loss for {case.label} (.item(), .detach(), "
            "torch.tensor(...) or .data cut the graph)"
        )


# The catalogue, in the order a match is named: each id is a file in mistakes/causal_lm_loss/.
MISTAKES = (
    "no_shift",
    "shift_wrong_way",
    "padding_counted",
    "inputs_mask",
    "sum",
    "mean_per_sequence",
    "divide_by_positions",
    "pad_id",
    "softmax_first",
    "nll_on_logits",
    "item",
    "skips_predictions_from_padding",
    "divide_by_tokens",
    "log_softmax_wrong_dim",
    "classes_last",
    "mean_of_sequence_sums",
)

CAUSAL_LM_LOSS = Exercise(
    name="causal_lm_loss",
    cell="causal_lm_loss",
    test_cell="causal_lm_loss_tests",
    points=4,
    subchecks=(
        SubCheck(
            "shift",
            1.5,
            "the logits at position t are scored against the token at t + 1 (the mean cross-entropy of "
            "logits[:, :-1] and input_ids[:, 1:]), as GPT2LMHeadModel's loss",
        ),
        SubCheck(
            "padding",
            1.0,
            "predictions of padding (attention_mask 0 at the predicted token) are not counted, left and right padding",
        ),
        SubCheck(
            "mean",
            1.0,
            "the mean is over all counted tokens of the batch together (not per sequence, not over every position)",
        ),
        SubCheck("scalar", 0.5, "returns a 0-dim float tensor whose gradient reaches the logits"),
    ),
    cases=_loss_cases,
    run=RUNNERS["causal_lm_loss"],
    compare=_loss_compare,
    forbidden=Forbidden(
        python=(
            f"{LOSSES}:causal_lm_loss",
            f"{LOSSES}:token_losses",
            f"{LOSSES}:causal_lm_labels",
            "transformers.loss.loss_utils:ForCausalLMLoss",
            "transformers.loss.loss_utils:fixed_cross_entropy",
        ),
        names=(LOSSES, "ForCausalLMLoss", "fixed_cross_entropy", "loss_function", "LOSS_MAPPING"),
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_causal_lm_loss(fn, hidden: bool = False) -> None:
    """Exercise 2, against the loss GPT2LMHeadModel returns (labels = input_ids, padding -100).
    Hidden: more shapes, vocabularies, paddings and float64 logits."""
    check(CAUSAL_LM_LOSS, fn, hidden)
