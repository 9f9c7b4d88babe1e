"""Graded checks of chapter 02 (transformer anatomy).

Each exercise has an ``*_examples`` check (the visible test: a few small cases) and a full
check (the hidden test: random inputs of several shapes and dtypes, compared with PyTorch,
with the library shortcut forbidden).
"""
from __future__ import annotations

import math
from collections.abc import Callable, MutableMapping

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse import attention as reference
from llmcourse.grading import GradingError, as_pair, assert_close, forbid, run_student, seeded

# What each exercise may not call: PyTorch functions (caught at dispatch, whatever name they
# were imported under) and Python code (the course's reference, torch's module).
FORBIDDEN_TORCH = (F.scaled_dot_product_attention, F.multi_head_attention_forward)
FORBIDDEN_PE = (reference.sinusoidal_positional_encoding,)
FORBIDDEN_SDPA = (reference.scaled_dot_product_attention, reference.MultiHeadAttention, nn.MultiheadAttention)
# Multi-head attention may use the reference attention: the checks hand it in anyway (below).
FORBIDDEN_MHA = (reference.MultiHeadAttention, nn.MultiheadAttention)


# ---------------------------------------------------------------- positional encoding


def _expected_positional_encoding(P: int, D: int) -> torch.Tensor:
    """The formula, evaluated entry by entry in float64 (independent of the reference code)."""
    pos = torch.arange(P, dtype=torch.float64).unsqueeze(1)  # (P, 1)
    i = torch.arange(D, dtype=torch.float64).unsqueeze(0)  # (1, D)
    angle = pos / torch.pow(10000.0, 2 * torch.div(i, 2, rounding_mode="floor") / D)
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))


def _check_pe(fn: Callable, P: int, D: int) -> None:
    expected = _expected_positional_encoding(P, D)
    with forbid(python_code=FORBIDDEN_PE, exercise="sinusoidal_positional_encoding"):
        got = run_student(fn, P, D, what=f"sinusoidal_positional_encoding({P}, {D})")
    assert_close(got, expected, what="positional encoding", atol=1e-5, rtol=1e-4, context=f"num_positions={P}, d_model={D}")
    if not got.is_floating_point():
        raise GradingError(f"positional encoding must be a float tensor, got {got.dtype}")


def check_positional_encoding_examples(fn: Callable) -> None:
    """Visible test: small sizes, including odd ``d_model``."""
    for P, D in [(1, 2), (3, 4), (6, 5)]:
        _check_pe(fn, P, D)
    print("positional encoding: example checks passed")


def check_positional_encoding(fn: Callable) -> None:
    """Hidden test: several sizes, odd and even."""
    for P, D in [(1, 1), (10, 8), (50, 33), (200, 64), (128, 512)]:
        _check_pe(fn, P, D)
    print("positional encoding: all checks passed")


# ---------------------------------------------------------------- scaled dot-product attention


def _expected_attention(q, k, v, mask):
    """PyTorch's attention in float64; rows with no allowed key are defined to be zero."""
    q64, k64, v64 = q.double(), k.double(), v.double()
    if mask is None:
        return F.scaled_dot_product_attention(q64, k64, v64), torch.softmax(
            q64 @ k64.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1
        )
    scores = (q64 @ k64.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # fully masked rows -> 0
    has_key = mask.any(-1, keepdim=True)
    safe_mask = mask | ~has_key  # give PyTorch a defined problem, then zero those rows
    output = F.scaled_dot_product_attention(q64, k64, v64, attn_mask=safe_mask) * has_key
    return output, weights


def _check_sdpa_case(fn, q, k, v, mask, atol, rtol):
    context = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}, dtype {q.dtype}"
    if mask is not None:
        context += f", mask {tuple(mask.shape)}"
    out_expected, w_expected = _expected_attention(q, k, v, mask)
    args = (q.clone(), k.clone(), v.clone(), None if mask is None else mask.clone())
    with forbid(FORBIDDEN_TORCH, FORBIDDEN_SDPA, exercise="scaled_dot_product_attention"):
        result = run_student(fn, *args, what="scaled_dot_product_attention")
    out, weights = as_pair(result, "scaled_dot_product_attention")
    w_shape = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (q.shape[-2], k.shape[-2])
    assert_close(weights, w_expected.expand(w_shape), what="attention weights", atol=atol, rtol=rtol, dtype=q.dtype, context=context)
    assert_close(out, out_expected, what="attention output", atol=atol, rtol=rtol, dtype=q.dtype, context=context)


def check_attention_examples(fn: Callable) -> None:
    """Visible test: small float32 cases without and with a mask."""
    g = seeded(0)
    q, k, v = torch.randn(1, 3, 4, generator=g), torch.randn(1, 3, 4, generator=g), torch.randn(1, 3, 2, generator=g)
    _check_sdpa_case(fn, q, k, v, None, 1e-5, 1e-4)
    _check_sdpa_case(fn, q, k, v, reference.causal_mask(3), 1e-5, 1e-4)
    q2, k2, v2 = torch.randn(2, 4, 8, generator=g), torch.randn(2, 6, 8, generator=g), torch.randn(2, 6, 3, generator=g)
    _check_sdpa_case(fn, q2, k2, v2, None, 1e-5, 1e-4)
    print("scaled_dot_product_attention: example checks passed")


def check_attention(fn: Callable) -> None:
    """Hidden test: batch dims of any rank, Tq != Tk, dv != d, broadcast masks, three dtypes,
    a fully masked row, and no shortcut."""
    shapes = [((), 1, 1, 1, 1), ((3,), 5, 5, 8, 8), ((2, 3), 4, 7, 16, 5), ((2, 1, 3), 6, 2, 4, 9)]
    dtypes = [(torch.float32, 1e-5, 1e-4), (torch.float64, 1e-9, 1e-9), (torch.bfloat16, 2e-2, 2e-2)]
    for n, (batch, Tq, Tk, d, dv) in enumerate(shapes):
        g = seeded(100 + n)
        q = torch.randn(*batch, Tq, d, generator=g) * 2
        k = torch.randn(*batch, Tk, d, generator=g) * 2
        v = torch.randn(*batch, Tk, dv, generator=g)
        full_mask = torch.rand(*batch, Tq, Tk, generator=g) > 0.5
        full_mask[..., 0] = True
        for dtype, atol, rtol in dtypes:
            q_, k_, v_ = q.to(dtype), k.to(dtype), v.to(dtype)
            _check_sdpa_case(fn, q_, k_, v_, None, atol, rtol)
            _check_sdpa_case(fn, q_, k_, v_, full_mask, atol, rtol)
            _check_sdpa_case(fn, q_, k_, v_, full_mask[(0,) * len(batch)], atol, rtol)  # (Tq, Tk)
    # A query that may attend to nothing: weights and output are zero, not NaN.
    g = seeded(7)
    q, k, v = torch.randn(2, 4, 8, generator=g), torch.randn(2, 5, 8, generator=g), torch.randn(2, 5, 3, generator=g)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2] = False
    _check_sdpa_case(fn, q, k, v, mask, 1e-5, 1e-4)
    print("scaled_dot_product_attention: all checks passed")


# ---------------------------------------------------------------- multi-head attention


def _build_student_mha(cls, E: int, H: int, bias: bool, torch_mha: nn.MultiheadAttention) -> nn.Module:
    with forbid(FORBIDDEN_TORCH, FORBIDDEN_MHA, exercise="MultiHeadAttention"):
        module = run_student(cls, E, H, bias=bias, what=f"MultiHeadAttention({E}, {H}, bias={bias})")
    missing = [n for n in ("q_proj", "k_proj", "v_proj", "out_proj") if not isinstance(getattr(module, n, None), nn.Linear)]
    if missing:
        raise GradingError(f"MultiHeadAttention needs nn.Linear attributes q_proj, k_proj, v_proj, out_proj; missing {missing}")
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        layer = getattr(module, name)
        if tuple(layer.weight.shape) != (E, E) or (layer.bias is not None) != bias:
            raise GradingError(
                f"{name} should be nn.Linear({E}, {E}, bias={bias}); got weight {tuple(layer.weight.shape)}, "
                f"bias {'present' if layer.bias is not None else 'absent'}"
            )
    reference.copy_mha_weights(torch_mha, module)
    return module


def _check_mha_case(cls, E, H, B, Tq, Tk, bias, seed):
    torch.manual_seed(seed)
    torch_mha = nn.MultiheadAttention(E, H, bias=bias, batch_first=True)
    with torch.no_grad():
        for p in torch_mha.parameters():
            p.normal_(0, 0.5)  # random biases too, so a dropped bias shows
    g = seeded(seed)
    x, y = torch.randn(B, Tq, E, generator=g), torch.randn(B, Tk, E, generator=g)
    mask = torch.rand(B, 1, Tq, Tk, generator=g) > 0.4
    mask[..., 0] = True
    cases = [(x, y, None, None), (x, y, mask, (~mask).expand(B, H, Tq, Tk).reshape(B * H, Tq, Tk))]
    if Tq == Tk:
        cases.append((x, x, reference.causal_mask(Tq), ~reference.causal_mask(Tq)))
    expected = [torch_mha(q_in, kv_in, kv_in, attn_mask=tm, average_attn_weights=False) for q_in, kv_in, _, tm in cases]
    module = _build_student_mha(cls, E, H, bias, torch_mha)
    for (q_in, kv_in, m, _), (out_e, w_e) in zip(cases, expected):
        context = f"E={E}, num_heads={H}, query {tuple(q_in.shape)}, key/value {tuple(kv_in.shape)}"
        context += f", mask {tuple(m.shape)}" if m is not None else ", no mask"
        with forbid(FORBIDDEN_TORCH, FORBIDDEN_MHA, exercise="MultiHeadAttention"):
            result = run_student(module, q_in, kv_in, kv_in, m, what="MultiHeadAttention.forward")
        out, weights = as_pair(result, "MultiHeadAttention.forward")
        assert_close(weights, w_e, what="attention weights (B, H, Tq, Tk)", atol=1e-5, rtol=1e-4, context=context)
        assert_close(out, out_e, what="multi-head output", atol=1e-5, rtol=1e-4, context=context)


def _with_trusted_attention(namespace: MutableMapping | None, body: Callable[[], None]) -> None:
    """Run ``body`` with the notebook's ``scaled_dot_product_attention`` swapped for the
    reference, so a mistake in the attention exercise is not penalised again here."""
    name = "scaled_dot_product_attention"
    if namespace is None or name not in namespace:
        return body()
    own = namespace[name]
    namespace[name] = reference.scaled_dot_product_attention
    try:
        body()
    finally:
        namespace[name] = own


def check_multi_head_attention_examples(cls: type, namespace: MutableMapping | None = None) -> None:
    """Visible test: one small configuration. Pass ``globals()`` as ``namespace`` so the check
    uses a correct ``scaled_dot_product_attention`` in place of yours."""
    _with_trusted_attention(namespace, lambda: _check_mha_case(cls, 8, 2, 1, 3, 3, True, seed=0))
    print("MultiHeadAttention: example checks passed")


def check_multi_head_attention(cls: type, namespace: MutableMapping | None = None) -> None:
    """Hidden test: several sizes, with and without bias and masks, against nn.MultiheadAttention."""
    configs = [(8, 1, 2, 4, 4, True), (16, 4, 2, 5, 7, True), (24, 3, 3, 6, 6, False), (32, 8, 1, 9, 2, True)]

    def body() -> None:
        for n, config in enumerate(configs):
            _check_mha_case(cls, *config, seed=10 + n)

    _with_trusted_attention(namespace, body)
    print("MultiHeadAttention: all checks passed")
