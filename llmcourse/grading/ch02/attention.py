"""Exercise 5, ``scaled_dot_product_attention(q, k, v, mask=None) -> (output, weights)``,
against PyTorch's ``F.scaled_dot_product_attention`` and a softmax in float64."""

from __future__ import annotations

import math
from typing import Any

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
    items_of,
    kind_of,
    to_plain,
)
from llmcourse.grading.kit import catalogue, seeded
from llmcourse.grading.runners.ch02 import RUNNERS
from llmcourse.grading.wire import known_tensor_meta, tensor_meta, tolerance, tuple_items

from .common import FUSED_ATEN, FUSED_TORCH, REFERENCE


def _attention_expected(q, k, v, mask):
    """PyTorch's attention in float64; a query with no allowed key gets zero weights and output."""
    q64, k64, v64 = q.double(), k.double(), v.double()
    scores = q64 @ k64.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is None:
        return F.scaled_dot_product_attention(q64, k64, v64), torch.softmax(scores, dim=-1)
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1).nan_to_num(0.0)
    has_key = mask.any(-1, keepdim=True)
    output = F.scaled_dot_product_attention(q64, k64, v64, attn_mask=mask | ~has_key) * has_key
    return output, weights


def _attention_case(sub, q, k, v, mask, visible, dtype=torch.float32) -> Case:
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    out, w = _attention_expected(q, k, v, mask)
    w = w.expand(torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + w.shape[-2:])
    label = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}, {str(dtype).removeprefix('torch.')}"
    label += f", mask {tuple(mask.shape)}" if mask is not None else ", no mask"
    return Case(sub, (q, k, v, mask), to_plain((out.to(dtype), w.to(dtype))), label, visible)


def _qkv(seed, batch, Tq, Tk, d, dv) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = seeded(seed)
    return (
        torch.randn(*batch, Tq, d, generator=g) * 2,
        torch.randn(*batch, Tk, d, generator=g) * 2,
        torch.randn(*batch, Tk, dv, generator=g),
    )


def _random_mask(seed, shape):
    mask = torch.rand(*shape, generator=seeded(seed)) > 0.5
    mask[..., 0] = True  # every query may see at least one key
    return mask


def _attention_cases(hidden: bool) -> list[Case]:
    cases = [
        _attention_case("values", *_qkv(0, (), 3, 3, 4, 2), None, True),
        _attention_case("values", *_qkv(1, (), 4, 6, 8, 3), None, True),
        _attention_case("batch", *_qkv(2, (2,), 4, 6, 8, 3), None, True),
        _attention_case("batch", *_qkv(3, (2, 3), 2, 5, 4, 4), None, True),
        _attention_case("mask", *_qkv(4, (), 3, 3, 4, 2), torch.ones(3, 3, dtype=torch.bool).tril(), True),
        _attention_case("mask", *_qkv(5, (2,), 4, 5, 8, 3), _random_mask(5, (2, 4, 5)), True),
        _attention_case(
            "masked_row",
            *_qkv(6, (2,), 4, 5, 8, 3),
            torch.ones(4, 5, dtype=torch.bool).index_fill(0, torch.tensor([2]), False),
            True,
        ),
        _attention_case("dtype", *_qkv(7, (2,), 3, 4, 8, 3), None, True, torch.float64),
    ]
    if hidden:
        shapes = [((), 1, 1, 1, 1), ((3,), 5, 5, 8, 8), ((2, 3), 4, 7, 16, 5), ((2, 1, 3), 6, 2, 4, 9)]
        for n, (batch, Tq, Tk, d, dv) in enumerate(shapes):
            q, k, v = _qkv(100 + n, batch, Tq, Tk, d, dv)
            mask = _random_mask(200 + n, (*batch, Tq, Tk))
            cases += [
                _attention_case("values" if not batch else "batch", q, k, v, None, False),
                _attention_case("values" if not batch else "batch", q, k, v, None, False, torch.bfloat16),
                _attention_case("mask", q, k, v, mask, False),
                _attention_case("mask", q, k, v, mask[(0,) * len(batch)], False),  # (Tq, Tk), broadcast
                _attention_case("mask", q, k, v, mask, False, torch.float64),
            ]
        # the dtype requirement judges the dtypes alone, on inputs of the visible case's rank (one
        # batch dimension): other ranks are the batch requirement's
        for n, (Tq, Tk, d, dv) in enumerate([(1, 1, 1, 1), (5, 5, 8, 8), (4, 7, 16, 5)]):
            q, k, v = _qkv(300 + n, (2,), Tq, Tk, d, dv)
            cases += [
                _attention_case("dtype", q, k, v, None, False, dtype) for dtype in (torch.float64, torch.bfloat16)
            ]
        q, k, v = _qkv(9, (3,), 6, 4, 8, 2)
        rows = torch.ones(3, 6, 4, dtype=torch.bool)
        rows[0, 1], rows[2, 5] = False, False
        cases.append(_attention_case("masked_row", q, k, v, rows, False))
    return cases


def _attention_compare(case: Case, got: Any, expected: Any) -> None:
    out, weights = items_of(got, "scaled_dot_product_attention", 2)
    out_e, weights_e = tuple_items(expected)
    name = known_tensor_meta(out_e).dtype  # the dtype of the inputs
    if case.subcheck == "dtype":  # the dtypes alone: the values are the other requirements'
        for what, t in (("attention weights", weights), ("attention output", out)):
            meta = tensor_meta(t)
            if meta is None:
                raise GradingError(f"{what} for {case.label}: expected a torch.Tensor, got {kind_of(t)}")
            if meta.kind != "torch.Tensor":
                raise GradingError(f"{what} for {case.label}: expected a plain torch.Tensor, got a {meta.kind}")
            if meta.dtype != name:
                raise GradingError(
                    f"{what} for {case.label}: expected dtype torch.{name}, got torch.{meta.dtype} "
                    "(return the dtype of the inputs)"
                )
        return
    # the values, to the precision of float32 at least (a result's dtype is the dtype requirement's)
    atol, rtol = tolerance(name)
    expect_tensor(weights, weights_e, what="attention weights", context=case.label, atol=atol, rtol=rtol)
    expect_tensor(out, out_e, what="attention output", context=case.label, atol=atol, rtol=rtol)


# The catalogue, in the order a match is named: each id is a file in mistakes/attention/.
MISTAKES = (
    "no_scaling",
    "scale_by_d",
    "softmax_wrong_axis",
    "mask_after_softmax",
    "inverted_mask",
    "nan_rows",
    "upcast",
    "transpose_1_2",
    "swapped_return",
    "mask_fill_zero",
    "large_negative",
    "additive_bool_mask",
    "scale_by_dv",
    "scale_by_length",
    "keys_times_queries",
    "scores_times_v",
)

ATTENTION = Exercise(
    name="scaled_dot_product_attention",
    cell="attention",
    test_cell="attention_tests",
    points=4,
    subchecks=(
        SubCheck(
            "values",
            1.5,
            "weights = softmax(q k^T / sqrt(d)) over the keys and output = weights @ v, also when Tq != Tk and dv != d",
        ),
        SubCheck("batch", 0.5, "any number of leading batch dimensions (none, one or several)"),
        SubCheck(
            "mask", 1.0, "a boolean mask broadcastable to (..., Tq, Tk), True = may attend, applied before the softmax"
        ),
        SubCheck("masked_row", 0.5, "a query whose mask row is all False gets zero weights and a zero output"),
        SubCheck("dtype", 0.5, "output and weights in the dtype of the inputs (float32, float64, bfloat16)"),
    ),
    cases=_attention_cases,
    run=RUNNERS["attention"],
    compare=_attention_compare,
    forbidden=Forbidden(
        torch=FUSED_TORCH,
        aten=FUSED_ATEN,
        python=(
            f"{REFERENCE}:scaled_dot_product_attention",
            f"{REFERENCE}:MultiHeadAttention",
            "torch.nn:MultiheadAttention",
        ),
        names=("scaled_dot_product_attention", "multi_head_attention_forward", "MultiheadAttention", REFERENCE),
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_attention(fn, hidden: bool = False) -> None:
    """Exercise 5. Visible: each requirement on small inputs; hidden: batch ranks, broadcast
    masks, float64 and bfloat16."""
    check(ATTENTION, fn, hidden)
