"""Self-checks for the optional, ungraded exercises (chapter 02: the pieces of a modern LLM).

Each ``check_*`` function runs the student's answer on random inputs of a few shapes and compares
it with an independent implementation: PyTorch's ``torch.nn.functional.rms_norm`` and
``scaled_dot_product_attention``, and Hugging Face ``transformers``' Llama code for rotary
embeddings and the SwiGLU feed-forward layer. It prints one ✓/✗ line per requirement, a failing
one with what it expected and what it got (shape, first differing index) and, when the answer
equals a known mistake, which. Nothing here is graded or sandboxed: it runs in the student's own
kernel, for learning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

Problem = str | None  # None: the requirement holds; otherwise what went wrong


def _randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def _difference(got: object, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> Problem:
    """None when ``got`` equals ``expected`` within tolerance, else where and how they differ."""
    if not isinstance(got, torch.Tensor):
        return f"expected a tensor of shape {tuple(expected.shape)}, got {type(got).__name__}"
    if got.shape != expected.shape:
        return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.dtype != expected.dtype:
        return f"expected dtype {expected.dtype}, got {got.dtype}"
    close = torch.isclose(got.detach().cpu().double(), expected.double(), rtol=rtol, atol=atol)
    if bool(close.all()):
        return None
    index = tuple(int(i) for i in (~close).nonzero()[0])
    return (
        f"shape {tuple(expected.shape)}, first difference at index {index}: "
        f"expected {expected[index].item():.6g}, got {got[index].item():.6g}"
    )


def _compare(got: object, expected: torch.Tensor, mistakes: dict[str, torch.Tensor] | None = None) -> Problem:
    """Like :func:`_difference`, naming the mistake when ``got`` equals one of ``mistakes``."""
    problem = _difference(got, expected)
    if problem is None:
        return None
    for message, wrong in (mistakes or {}).items():
        if _difference(got, wrong) is None:
            return f"{problem} ({message})"
    return problem


def _shape(got: object, shape: tuple[int, ...]) -> Problem:
    if not isinstance(got, torch.Tensor):
        return f"expected a tensor of shape {shape}, got {type(got).__name__}"
    return None if tuple(got.shape) == shape else f"expected shape {shape}, got {tuple(got.shape)}"


def _first(problems: list[Problem]) -> Problem:
    return next((p for p in problems if p is not None), None)


def _report(name: str, requirements: list[tuple[str, Callable[[], Problem]]]) -> None:
    """Run every requirement and print one ✓/✗ line each, then a verdict."""
    failed = 0
    for text, requirement in requirements:
        try:
            problem = requirement()
        except NotImplementedError:
            problem = "not implemented yet (replace `raise NotImplementedError()` with your code)"
        except Exception as exc:  # noqa: BLE001 - any error in the answer is reported, not raised
            problem = f"raised {type(exc).__name__}: {exc}"
        failed += problem is not None
        print(f"  {'✓' if problem is None else '✗'} {text}" + ("" if problem is None else f": {problem}"))
    verdict = "all self-checks pass" if not failed else f"{failed} of {len(requirements)} self-checks fail"
    print(f"{name}: {verdict} (optional, not graded)")


# ---------------------------------------------------------------- RMSNorm


def check_rms_norm(rms_norm: Callable[..., torch.Tensor]) -> None:
    """``rms_norm(x, weight, eps=1e-6)`` against ``torch.nn.functional.rms_norm``."""

    def case(shape: tuple[int, ...], seed: int, eps: float = 1e-6, scale: float = 1.0, dtype=torch.float32) -> Problem:
        x = _randn(*shape, seed=seed, dtype=dtype) * scale  # (..., D)
        weight = 1 + 0.5 * _randn(shape[-1], seed=seed + 1, dtype=dtype)  # (D,)
        mean_square = x.pow(2).mean(-1, keepdim=True)  # (..., 1)
        mistakes = {
            "you subtracted the mean: that is LayerNorm": F.layer_norm(x, shape[-1:], weight, eps=eps),
            "you left out `weight`": F.rms_norm(x, shape[-1:], eps=eps),
            "eps goes inside the square root": x / (mean_square.sqrt() + eps) * weight,
        }
        return _compare(rms_norm(x, weight, eps=eps), F.rms_norm(x, shape[-1:], weight, eps=eps), mistakes)

    shapes = [(8,), (3, 16), (2, 5, 32)]
    _report(
        "rms_norm",
        [
            (
                "keeps the shape of x (..., D), with any number of leading dimensions",
                lambda: _first([_shape(rms_norm(_randn(*s), torch.ones(s[-1])), s) for s in shapes]),
            ),
            (
                "equals torch.nn.functional.rms_norm: x / sqrt(mean(x**2) + eps) * weight",
                lambda: _first([case((4, 16), 0), case((2, 3, 64), 1)]),
            ),
            ("adds eps inside the square root (small inputs, eps=1e-2)", lambda: case((3, 8), 2, eps=1e-2, scale=1e-2)),
            ("works in float64 and returns the dtype of x", lambda: case((2, 12), 3, dtype=torch.float64)),
        ],
    )


# ---------------------------------------------------------------- rotary position embedding


def hf_rope(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """The oracle: Hugging Face's Llama rotary embedding of ``x (..., T, d)``, positions 0..T-1."""
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import (
        LlamaRotaryEmbedding,
        apply_rotary_pos_emb,
    )

    T, d = x.shape[-2:]
    config = LlamaConfig(
        hidden_size=d,
        num_attention_heads=1,
        head_dim=d,
        max_position_embeddings=max(T, 1),
        rope_parameters={"rope_type": "default", "rope_theta": base},
    )
    flat = x.reshape(-1, T, d)  # (N, T, d)
    cos, sin = LlamaRotaryEmbedding(config)(flat, torch.arange(T)[None])  # (1, T, d) each
    rotated, _ = apply_rotary_pos_emb(flat, flat, cos, sin, unsqueeze_dim=0)
    return rotated.reshape(x.shape)


def _rope_interleaved(x: torch.Tensor, base: float) -> torch.Tensor:
    """The paper's layout, pairs (2i, 2i+1): a valid RoPE, but not the layout asked for."""
    T, d = x.shape[-2:]
    angles = torch.arange(T)[:, None] * base ** (-torch.arange(0, d, 2) / d)  # (T, d/2)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.stack([even * angles.cos() - odd * angles.sin(), even * angles.sin() + odd * angles.cos()], -1)
    return out.flatten(-2)


def check_rope(rope: Callable[..., torch.Tensor]) -> None:
    """``rope(x, base=10000.0)`` against ``transformers``' Llama ``apply_rotary_pos_emb``."""

    def case(shape: tuple[int, ...], seed: int, base: float = 10000.0) -> Problem:
        x = _randn(*shape, seed=seed)
        padded = torch.cat([torch.zeros_like(x[..., :1, :]), x], dim=-2)  # positions shifted by one
        mistakes = {
            (
                "you paired neighbours (2i, 2i+1) as the paper and Meta's code do; here dimension i pairs with "
                "i + d/2, as in Hugging Face's Llama code"
            ): _rope_interleaved(x, base),
            "positions start at 0, not 1": hf_rope(padded, base)[..., 1:, :],
        }
        return _compare(rope(x, base=base), hf_rope(x, base), mistakes)

    def relative() -> Problem:
        q, k = _randn(16, seed=5), _randn(16, seed=6)
        rq, rk = rope(q.expand(8, 16).clone()), rope(k.expand(8, 16).clone())  # the same vector at every position
        near, far = rq[2] @ rk[0], rq[7] @ rk[5]  # both two positions apart
        return (
            None
            if torch.isclose(near, far, atol=1e-4)
            else (
                f"q·k at positions (2, 0) is {near.item():.5g} but at (7, 5) {far.item():.5g}; "
                "a rotation by the position makes them equal"
            )
        )

    shapes = [(6, 8), (2, 3, 5, 16), (1, 4)]
    _report(
        "rope",
        [
            ("keeps the shape of x (..., T, d)", lambda: _first([_shape(rope(_randn(*s)), s) for s in shapes])),
            (
                "rotates the pair (i, i + d/2) at position m by the angle m / base^(2i/d), as Hugging Face's Llama "
                "apply_rotary_pos_emb",
                lambda: _first([case((2, 4, 7, 16), 0), case((10, 32), 1)]),
            ),
            ("uses `base` (Llama 3 uses 500000)", lambda: case((3, 9, 8), 2, base=500000.0)),
            ("q·k after the rotation depends only on the distance between the positions", relative),
        ],
    )


# ---------------------------------------------------------------- SwiGLU


def hf_swiglu(module: nn.Module, dim: int, hidden_dim: int) -> nn.Module:
    """The oracle: Hugging Face's ``LlamaMLP`` with ``module``'s weights."""
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaMLP

    config = LlamaConfig(
        hidden_size=dim, intermediate_size=hidden_dim, num_attention_heads=1, hidden_act="silu", mlp_bias=False
    )
    mlp = LlamaMLP(config)
    weights = {f"{name}.weight": getattr(module, name).weight for name in ("gate_proj", "up_proj", "down_proj")}
    mlp.load_state_dict(weights)
    return mlp


def check_swiglu(SwiGLU: type[nn.Module]) -> None:
    """``SwiGLU(dim, hidden_dim)`` against ``transformers``' ``LlamaMLP`` with the same weights."""

    def layers() -> Problem:
        torch.manual_seed(0)
        module = SwiGLU(16, 40)
        for name, shape in [("gate_proj", (40, 16)), ("up_proj", (40, 16)), ("down_proj", (16, 40))]:
            layer = getattr(module, name, None)
            if not isinstance(layer, nn.Linear):
                return f"expected an nn.Linear named {name}, got {type(layer).__name__}"
            if tuple(layer.weight.shape) != shape or layer.bias is not None:
                return (
                    f"{name}: expected weight {shape} and no bias, got weight {tuple(layer.weight.shape)}"
                    f"{' and a bias' if layer.bias is not None else ''}"
                )
        return None

    def case(shape: tuple[int, ...], hidden_dim: int, seed: int) -> Problem:
        torch.manual_seed(seed)
        module = SwiGLU(shape[-1], hidden_dim)
        mlp: Any = hf_swiglu(module, shape[-1], hidden_dim)  # a LlamaMLP
        x = _randn(*shape, seed=seed)
        with torch.no_grad():
            gate, up = mlp.gate_proj(x), mlp.up_proj(x)
            expected = mlp(x)
            mistakes = {
                "the SiLU goes on gate_proj's output, not up_proj's": mlp.down_proj(gate * F.silu(up)),
                "SwiGLU uses SiLU (x * sigmoid(x)), not GELU": mlp.down_proj(F.gelu(gate) * up),
                "SwiGLU uses SiLU (x * sigmoid(x)), not ReLU": mlp.down_proj(F.relu(gate) * up),
                "multiply silu(gate_proj(x)) by up_proj(x) before down_proj": mlp.down_proj(F.silu(gate)),
            }
            return _compare(module(x), expected, mistakes)

    _report(
        "SwiGLU",
        [
            ("has gate_proj and up_proj (D -> hidden) and down_proj (hidden -> D), nn.Linear without bias", layers),
            (
                "equals transformers' LlamaMLP with the same weights: down_proj(silu(gate_proj(x)) * up_proj(x))",
                lambda: _first([case((2, 5, 16), 40, 1), case((3, 32), 88, 2)]),
            ),
            (
                "works with any number of leading dimensions, (D,) to (B, T, ..., D)",
                lambda: _first([case((16,), 24, 3), case((2, 3, 4, 8), 20, 4)]),
            ),
        ],
    )


# ---------------------------------------------------------------- grouped-query attention


def sdpa_gqa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, is_causal: bool = True) -> torch.Tensor:
    """The oracle: PyTorch's fused attention with each key/value head repeated for its group."""
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)  # (B, H, Tk, d)
    return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)


def check_grouped_query_attention(grouped_query_attention: Callable[..., torch.Tensor]) -> None:
    """``grouped_query_attention(q, k, v, is_causal=True)`` against ``F.scaled_dot_product_attention``."""

    def case(B: int, H: int, G: int, Tq: int, Tk: int, d: int, is_causal: bool, seed: int) -> Problem:
        q, k, v = _randn(B, H, Tq, d, seed=seed), _randn(B, G, Tk, d, seed=seed + 1), _randn(B, G, Tk, d, seed=seed + 2)
        mistakes = {
            (
                "query head h must use key/value head h // (H // G) (repeat_interleave), not h % G (repeat)"
            ): F.scaled_dot_product_attention(
                q, k.repeat(1, H // G, 1, 1), v.repeat(1, H // G, 1, 1), is_causal=is_causal
            ),
            "the scores need the 1/sqrt(d) scaling": sdpa_gqa(q * math.sqrt(d), k, v, is_causal),
            "the mask is causal: query i sees keys 0..i" if is_causal else "is_causal=False: no mask": sdpa_gqa(
                q, k, v, not is_causal
            ),
        }
        return _compare(grouped_query_attention(q, k, v, is_causal=is_causal), sdpa_gqa(q, k, v, is_causal), mistakes)

    _report(
        "grouped_query_attention",
        [
            (
                "returns (B, H, Tq, d) for q (B, H, Tq, d) and k, v (B, G, Tk, d)",
                lambda: _shape(
                    grouped_query_attention(_randn(2, 4, 5, 8), _randn(2, 2, 5, 8), _randn(2, 2, 5, 8)), (2, 4, 5, 8)
                ),
            ),
            (
                "equals F.scaled_dot_product_attention with each key/value head shared by H // G query heads (causal)",
                lambda: _first([case(2, 8, 2, 6, 6, 16, True, 0), case(1, 6, 3, 9, 9, 8, True, 10)]),
            ),
            (
                "G = 1 (multi-query attention) and G = H (multi-head attention)",
                lambda: _first([case(2, 4, 1, 5, 5, 8, True, 20), case(2, 4, 4, 5, 5, 8, True, 30)]),
            ),
            (
                "is_causal=False: every query sees every key, also when Tk != Tq",
                lambda: case(2, 4, 2, 3, 7, 8, False, 40),
            ),
        ],
    )
