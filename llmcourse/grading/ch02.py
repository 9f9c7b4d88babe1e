"""Graded checks of chapter 02 (transformer anatomy), declared for the grading engine.

Test cells call ``check_positional_encoding(fn)``, ``check_attention(fn)`` and
``check_multi_head_attention(cls)`` (visible cases); the hidden part adds ``hidden=True``.
Expected values come from the formula evaluated in float64 and from PyTorch
(``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``), never from ``llmcourse.attention``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    Mistake,
    SubCheck,
    check,
    expect_tensor,
    items_of,
    kind_of,
    to_plain,
)
from llmcourse.grading.runners.ch02 import PROJECTIONS, RUNNERS

REFERENCE = "llmcourse.attention"
FUSED_TORCH = ("torch.nn.functional.scaled_dot_product_attention", "torch.nn.functional.multi_head_attention_forward")
FUSED_ATEN = ("scaled_dot_product", "multi_head_attention")


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- exercise 1: positional encoding


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
        if not (isinstance(got, dict) and "tensor" in got):
            raise GradingError(f"expected a torch.Tensor for {case.label}, got {type(got).__name__}")
        shape, dtype = tuple(got["tensor"]["shape"]), got["tensor"]["dtype"]
        want = tuple(expected["tensor"]["shape"])
        if shape != want:
            raise GradingError(f"positional encoding for {case.label}: expected shape {want}, got {shape}")
        if not dtype.startswith(("float", "bfloat")):
            raise GradingError(f"positional encoding for {case.label}: expected a float tensor, got dtype {dtype}")
        return
    expect_tensor(got, expected, what="positional encoding", context=case.label, atol=1e-5, rtol=1e-4)


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
    mistakes=(
        Mistake(
            "sin_cos_swapped",
            "your even columns hold cosines and odd columns sines: swap them",
            """
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / 10000 ** ((i - i % 2) / d_model)
            pe[pos, i] = math.cos(angle) if i % 2 == 0 else math.sin(angle)
    return pe
""",
        ),
        Mistake(
            "exponent_i",
            "your exponent uses i / d_model for column i; both columns of a pair share 2i / d_model",
            """
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / 10000 ** (i / d_model)
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe
""",
        ),
        Mistake(
            "positions_from_one",
            "your positions start at 1; they start at 0",
            """
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(1, num_positions + 1, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
        Mistake(
            "halves",
            "you put all sines first and all cosines after; they alternate column by column",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    return torch.cat([torch.sin(angles), torch.cos(angles[:, : d_model // 2])], dim=1)
""",
        ),
        Mistake(
            "transposed",
            "your tensor is (d_model, num_positions): transpose it",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe.T
""",
        ),
        Mistake(
            "base_1000",
            "your wavelengths use 1000 instead of 10000",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 1000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
        Mistake(
            "multiplied",
            "you multiply the position by 10000^(2i/d_model); divide by it (the wavelengths grow column by column)",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos * 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
        Mistake(
            "integer_exponent",
            "your exponent uses integer division: 2i // d_model is 0, so every column has the same frequency; divide "
            "with /",
            """
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / 10000 ** ((i - i % 2) // d_model)
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe
""",
        ),
        Mistake(
            "precedence",
            "10000 ** two_i / d_model is (10000 ** two_i) / d_model: the exponent needs parentheses, 10000 ** (two_i "
            "/ d_model)",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angles = pos / (10000 ** two_i / d_model)
    pe = torch.zeros(num_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
        Mistake(
            "odd_last_column_zero",
            "when d_model is odd your last column stays 0: it is a sine (an odd d_model has one more sine than cosine)",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model - 1, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0:2 * angles.shape[1]:2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
        Mistake(
            "odd_cosines_too_many",
            "for an odd d_model there is one cosine column fewer than sines: keep cos(angles)[:, :d_model // 2]",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe
""",
        ),
        Mistake(
            "integer_tensor",
            "your tensor holds integers (zeros_like of an integer arange): every sine and cosine is truncated; make "
            "it a float tensor",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions)[:, None]
    two_i = torch.arange(0, d_model, 2)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros_like(pos).repeat(1, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
    ),
)


# ---------------------------------------------------------------- exercise 2: attention


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
    g = _seeded(seed)
    return (
        torch.randn(*batch, Tq, d, generator=g) * 2,
        torch.randn(*batch, Tk, d, generator=g) * 2,
        torch.randn(*batch, Tk, dv, generator=g),
    )


def _random_mask(seed, shape):
    mask = torch.rand(*shape, generator=_seeded(seed)) > 0.5
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
    out_e, weights_e = expected["tuple"]
    name = out_e["tensor"]["dtype"]  # the dtype of the inputs
    if case.subcheck == "dtype":  # the dtypes alone: the values are the other requirements'
        for what, t in (("attention weights", weights), ("attention output", out)):
            if not (isinstance(t, dict) and "tensor" in t):
                raise GradingError(f"{what} for {case.label}: expected a torch.Tensor, got {kind_of(t)}")
            if t["tensor"]["kind"] != "torch.Tensor":
                raise GradingError(
                    f"{what} for {case.label}: expected a plain torch.Tensor, got a {t['tensor']['kind']}"
                )
            if t["tensor"]["dtype"] != name:
                raise GradingError(
                    f"{what} for {case.label}: expected dtype torch.{name}, got torch.{t['tensor']['dtype']} "
                    "(return the dtype of the inputs)"
                )
        return
    # the values, to the precision of float32 at least (a result's dtype is the dtype requirement's)
    tol = (2e-2, 2e-2) if name == "bfloat16" else (1e-5, 1e-4)
    expect_tensor(weights, weights_e, what="attention weights", context=case.label, atol=tol[0], rtol=tol[1])
    expect_tensor(out, out_e, what="attention output", context=case.label, atol=tol[0], rtol=tol[1])


def _sdpa_mistake(body: str) -> str:
    return "import math, torch\ndef scaled_dot_product_attention(q, k, v, mask=None):\n" + body


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
    mistakes=(
        Mistake(
            "no_scaling",
            "your weights equal softmax(q k^T) without the 1/sqrt(d) scaling",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "scale_by_d",
            "you divide the scores by d; divide by sqrt(d)",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / q.shape[-1]
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "softmax_wrong_axis",
            "your softmax runs over the queries (dim=-2); each query's weights must sum to one over the keys (dim=-1)",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-2).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "mask_after_softmax",
            "you apply the mask after the softmax, so the remaining weights no longer sum to one",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    w = torch.softmax(s, dim=-1)
    if mask is not None:
        w = w * mask
    return w @ v, w
"""),
        ),
        Mistake(
            "inverted_mask",
            "you read True as 'blocked'; in this course True means 'may attend'",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "nan_rows",
            "a fully masked row gives NaN (softmax of all -inf): make its weights zero",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1)
    return w @ v, w
"""),
        ),
        Mistake(
            "upcast",
            "you compute in float32 and return float32 whatever the input dtype",
            _sdpa_mistake("""
    q, k, v = q.float(), k.float(), v.float()
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "transpose_1_2",
            "k.transpose(1, 2) only works for 3-d inputs: transpose the last two dimensions (-2, -1)",
            _sdpa_mistake("""
    s = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "swapped_return",
            "you return (weights, output); the order is (output, weights)",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w, w @ v
"""),
        ),
        Mistake(
            "mask_fill_zero",
            "you set the masked scores to 0, which still gets weight (e^0 = 1): set them to -inf before the softmax",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, 0.0)
    w = torch.softmax(s, dim=-1)
    return w @ v, w
"""),
        ),
        Mistake(
            "large_negative",
            "a fully masked row gets equal weights: with -1e9 (not -inf) every score of that row is the same, so "
            "softmax spreads it evenly; give such a row zero weights",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, -1e9)
    w = torch.softmax(s, dim=-1)
    return w @ v, w
"""),
        ),
        Mistake(
            "additive_bool_mask",
            "you add the boolean mask to the scores (True = +1): a boolean mask selects, masked_fill(~mask, -inf)",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s + mask
    w = torch.softmax(s, dim=-1)
    return w @ v, w
"""),
        ),
        Mistake(
            "scale_by_dv",
            "you scale by sqrt(v.shape[-1]), the size of the values; d is the size of q and k, q.shape[-1]",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(v.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "scale_by_length",
            "you scale by sqrt(q.shape[-2]), the number of queries; d is the last dimension, q.shape[-1]",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-2])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "keys_times_queries",
            "you compute k q^T, (Tk, Tq); the scores are q k^T, one row per query (Tq, Tk)",
            _sdpa_mistake("""
    s = k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "scores_times_v",
            "your output multiplies v by the scores; it is the weights (after the softmax) times v",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return s.nan_to_num(0.0, neginf=0.0) @ v, w
"""),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 3: multi-head attention


def _mha_case(sub, E, H, B, Tq, Tk, bias, masking, seed, visible) -> Case:
    torch.manual_seed(seed)
    torch_mha = nn.MultiheadAttention(E, H, bias=bias, batch_first=True)
    with torch.no_grad():
        for p in torch_mha.parameters():
            p.normal_(0, 0.5)  # random biases too, so a dropped bias shows
    w_q, w_k, w_v = torch_mha.in_proj_weight.detach().chunk(3)
    b_q, b_k, b_v = torch_mha.in_proj_bias.detach().chunk(3) if bias else (None, None, None)
    weights = {
        "q_proj": (w_q, b_q),
        "k_proj": (w_k, b_k),
        "v_proj": (w_v, b_v),
        "out_proj": (torch_mha.out_proj.weight.detach(), torch_mha.out_proj.bias.detach() if bias else None),
    }
    g = _seeded(seed)
    query = torch.randn(B, Tq, E, generator=g)
    key = query if masking == "causal" or Tq == Tk and sub == "self" else torch.randn(B, Tk, E, generator=g)
    mask, torch_mask = None, None
    if masking == "random":
        mask = torch.rand(B, 1, Tq, Tk, generator=g) > 0.4
        mask[..., 0] = True
        torch_mask = (~mask).expand(B, H, Tq, Tk).reshape(B * H, Tq, Tk)
    elif masking == "causal":
        mask = torch.ones(Tq, Tq, dtype=torch.bool).tril()
        torch_mask = ~mask
    inputs = {
        "E": E,
        "H": H,
        "bias": bias,
        "weights": weights,
        "query": query,
        "key": key,
        "mask": mask,
        "layers_only": sub == "layers",
    }
    label = f"E={E}, num_heads={H}, bias={bias}, query {tuple(query.shape)}, key/value {tuple(key.shape)}"
    label += f", mask {tuple(mask.shape)}" if mask is not None else ", no mask"
    if sub == "layers":
        expected = {name: [[E, E], bias] for name in PROJECTIONS}
        return Case(sub, inputs, to_plain(expected), label, visible)
    with torch.no_grad():
        out, w = torch_mha(query, key, key, attn_mask=torch_mask, average_attn_weights=False)
    return Case(sub, inputs, to_plain((out, w)), label, visible)


def _mha_cases(hidden: bool) -> list[Case]:
    cases = [
        _mha_case("layers", 8, 2, 1, 3, 3, True, None, 0, True),
        _mha_case("layers", 12, 3, 1, 3, 3, False, None, 1, True),
        _mha_case("self", 8, 2, 2, 3, 3, True, None, 2, True),
        _mha_case("self", 12, 3, 1, 4, 4, False, None, 6, True),  # bias=False: no bias may be added
        _mha_case("cross", 8, 2, 2, 3, 5, True, None, 3, True),
        _mha_case("mask", 8, 2, 2, 4, 4, True, "causal", 4, True),
        _mha_case("mask", 8, 2, 2, 3, 5, True, "random", 5, True),
    ]
    if hidden:
        configs = [(8, 1, 2, 4, 4, True), (16, 4, 2, 5, 7, True), (24, 3, 3, 6, 6, False), (32, 8, 1, 9, 2, True)]
        for n, (E, H, B, Tq, Tk, bias) in enumerate(configs):
            cases += [
                _mha_case("layers", E, H, B, Tq, Tk, bias, None, 10 + n, False),
                _mha_case("self", E, H, B, Tq, Tq, bias, None, 20 + n, False),
                _mha_case("cross", E, H, B, Tq, Tk, bias, None, 30 + n, False),
                _mha_case("mask", E, H, B, Tq, Tk, bias, "random", 40 + n, False),
                _mha_case("mask", E, H, B, Tq, Tq, bias, "causal", 50 + n, False),
            ]
    return cases


def _mha_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "layers":
        have = {k: v for k, v in got.get("dict", {}).items()} if isinstance(got, dict) else {}
        E, bias = case.inputs["E"], case.inputs["bias"]
        for name in PROJECTIONS:
            found = have.get(name)
            layer = found.get("list") if isinstance(found, dict) else None
            if layer is None:
                raise GradingError(
                    f"MultiHeadAttention({E}, {case.inputs['H']}, bias={bias}) needs an nn.Linear named {name}; none "
                    "found"
                )
            shape, has_bias = layer[0].get("list"), layer[1]
            if shape != [E, E] or has_bias != bias:
                raise GradingError(
                    f"{name} should be nn.Linear({E}, {E}, bias={bias}); got weight {tuple(shape)}, bias "
                    f"{'present' if has_bias else 'absent'}"
                )
        return
    out, weights = items_of(got, "MultiHeadAttention.forward", 2)
    out_e, weights_e = expected["tuple"]
    expect_tensor(weights, weights_e, what="attention weights (B, H, Tq, Tk)", context=case.label, atol=1e-5, rtol=1e-4)
    expect_tensor(out, out_e, what="multi-head output", context=case.label, atol=1e-5, rtol=1e-4)


_MHA_HEAD = """import math, torch
from torch import nn
class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query, key, value, mask=None):
        B, Tq, E = query.shape
"""
_SPLIT = "        split = lambda x: x.view(B, -1, self.num_heads, self.head_dim).transpose(1, 2)\n"

MULTI_HEAD_ATTENTION = Exercise(
    name="MultiHeadAttention",
    cell="multi_head_attention",
    test_cell="multi_head_attention_tests",
    points=4,
    subchecks=(
        SubCheck(
            "layers",
            1.0,
            "exactly four nn.Linear(embed_dim, embed_dim, bias=bias) named q_proj, k_proj, v_proj, out_proj",
        ),
        SubCheck(
            "self",
            1.5,
            "self-attention: output (B, Tq, E) and weights (B, H, Tq, Tk) equal torch.nn.MultiheadAttention's",
        ),
        SubCheck("cross", 0.5, "cross-attention: key and value of another length Tk"),
        SubCheck("mask", 1.0, "a boolean mask broadcastable to (B, H, Tq, Tk), True = may attend"),
    ),
    cases=_mha_cases,
    run=RUNNERS["multi_head_attention"],
    compare=_mha_compare,
    depends={"scaled_dot_product_attention": f"{REFERENCE}:scaled_dot_product_attention"},
    forbidden=Forbidden(
        torch=FUSED_TORCH,
        aten=FUSED_ATEN,
        python=(f"{REFERENCE}:MultiHeadAttention", "torch.nn:MultiheadAttention"),
        names=("MultiheadAttention", "multi_head_attention_forward", REFERENCE),
    ),
    mistakes=(
        Mistake(
            "no_out_proj",
            "you return the concatenated heads without the output projection out_proj",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return heads.transpose(1, 2).reshape(B, Tq, E), w
""",
        ),
        Mistake(
            "wrong_head_split",
            "your heads are split with reshape(B, H, T, d), which mixes positions and heads: use view(B, T, H, "
            "d).transpose(1, 2)",
            _MHA_HEAD
            + """
        split = lambda x: x.reshape(B, self.num_heads, -1, self.head_dim)
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "wrong_merge",
            "your heads are merged with reshape(B, Tq, E) before moving the head axis back: transpose(1, 2) first",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "scale_by_embed_dim",
            "your scores are divided by sqrt(embed_dim); each head's scores are divided by sqrt(head_dim)",
            _MHA_HEAD
            + _SPLIT
            + """
        q, k, v = split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value))
        s = q @ k.transpose(-2, -1) / math.sqrt(E)
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        w = s.softmax(-1)
        return self.out_proj((w @ v).transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "ignores_mask",
            "your forward ignores the mask",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value))
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "query_for_keys",
            "you project the query for the keys too: keys and values come from key and value",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(query)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "averaged_weights",
            "you average the weights over the heads (nn.MultiheadAttention's default, average_attn_weights=True): "
            "return them per head, (B, H, Tq, Tk)",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        out = self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E))
        return out, w.mean(dim=1)  # (B, Tq, Tk)
""",
        ),
        Mistake(
            "inverted_mask",
            "you invert the mask (nn.MultiheadAttention's attn_mask convention, True = blocked); here True = may "
            "attend",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)),
            split(self.k_proj(key)),
            split(self.v_proj(value)),
            None if mask is None else ~mask,
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "view_after_transpose",
            "view() after transpose(1, 2) fails (the tensor is not contiguous): merge the heads with reshape (or "
            ".contiguous().view)",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).view(B, Tq, E)), w
""",
        ),
        Mistake(
            "query_length_for_keys",
            "you split key and value into heads with the query's length Tq; they have their own length Tk: view(B, "
            "-1, H, d)",
            _MHA_HEAD
            + """
        split = lambda x: x.view(B, Tq, self.num_heads, self.head_dim).transpose(1, 2)
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "one_projection",
            "you project query, key and value with q_proj: each has its own layer, q_proj, k_proj and v_proj",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.q_proj(key)), split(self.q_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "no_scaling",
            "your scores are not divided by sqrt(head_dim) before the softmax",
            _MHA_HEAD
            + _SPLIT
            + """
        q, k, v = split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value))
        s = q @ k.transpose(-2, -1)
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        w = s.softmax(-1)
        return self.out_proj((w @ v).transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
    ),
)

EXERCISES: dict[str, Exercise] = {
    "positional_encoding": POSITIONAL_ENCODING,
    "attention": ATTENTION,
    "multi_head_attention": MULTI_HEAD_ATTENTION,
}


def check_positional_encoding(fn, hidden: bool = False) -> None:
    """Exercise 1. Visible: each requirement on small sizes; hidden: more sizes."""
    check(POSITIONAL_ENCODING, fn, hidden)


def check_attention(fn, hidden: bool = False) -> None:
    """Exercise 2. Visible: each requirement on small inputs; hidden: batch ranks, broadcast
    masks, float64 and bfloat16."""
    check(ATTENTION, fn, hidden)


def check_multi_head_attention(cls, hidden: bool = False) -> None:
    """Exercise 3, against ``nn.MultiheadAttention`` with the same weights; a correct attention
    stands in for your ``scaled_dot_product_attention`` while it runs."""
    check(MULTI_HEAD_ATTENTION, cls, hidden)
