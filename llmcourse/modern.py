"""The pieces of a modern LLM that replace the 2017 ones (chapter 02, optional exercises).

- :func:`rms_norm` / :class:`RMSNorm`: LayerNorm without the mean, "Root Mean Square Layer
  Normalization" (Zhang and Sennrich, 2019);
- :func:`rope` / :func:`apply_rotary`: rotary position embedding, "RoFormer" (Su et al., 2024),
  in the half-split layout of Llama's code (dimension i is paired with i + D/2);
- :class:`SwiGLU`: the gated feed-forward layer of "GLU Variants Improve Transformer"
  (Shazeer, 2020), with Llama's names ``gate_proj``, ``up_proj``, ``down_proj``;
- :func:`grouped_query_attention`: "GQA" (Ainslie et al., 2023), groups of query heads sharing
  one key/value head.

Shapes use these letters: B batch, H query heads, G key/value heads, T positions, d head size,
D model width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def rms_norm(x: torch.Tensor, weight: torch.Tensor | None = None, eps: float = 1e-6) -> torch.Tensor:
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last dimension, shape of ``x``."""
    rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)  # (..., 1)
    y = x / rms
    return y if weight is None else y * weight


class RMSNorm(nn.Module):
    """RMS normalisation with a learned scale (no shift), as in Llama."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., D) -> (..., D)
        return rms_norm(x, self.weight, self.eps)


def rope_cos_sin(
    num_positions: int, head_dim: int, base: float = 10000.0, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cosines and sines of the rotation angles ``pos / base^(2i/d)``, each ``(T, d)``.

    Pair ``i`` (dimensions ``i`` and ``i + d/2``) turns with frequency ``base^(-2i/d)``; the
    angles are repeated for the two halves.
    """
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim)  # (d/2,)
    angles = torch.arange(num_positions, dtype=torch.float32, device=device)[:, None] * inv_freq  # (T, d/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, d)
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(x1, x2) -> (-x2, x1)`` on the two halves of the last dimension."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate every pair ``(x[i], x[i + d/2])`` of ``x (..., T, d)`` by its angle."""
    return (x * cos + rotate_half(x) * sin).to(x.dtype)


def rope(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding of ``x (..., T, d)`` for positions ``0..T-1``; same shape.

    Applied to queries and keys (not values): afterwards ``q_m · k_n`` depends on the positions
    only through ``m - n``.
    """
    T, d = x.shape[-2:]
    cos, sin = rope_cos_sin(T, d, base, device=x.device)  # (T, d) each
    return apply_rotary(x, cos, sin)


class SwiGLU(nn.Module):
    """Gated feed-forward layer: ``down_proj(silu(gate_proj(x)) * up_proj(x))``, no biases."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.up_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.down_proj = nn.Linear(hidden_dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., D) -> (..., D)
        gate = F.silu(self.gate_proj(x))  # (..., hidden): how much of each feature passes
        return self.down_proj(gate * self.up_proj(x))


def grouped_query_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, is_causal: bool = True) -> torch.Tensor:
    """Attention where ``H`` query heads share ``G`` key/value heads, ``H // G`` per group.

    ``q (B, H, Tq, d)``, ``k`` and ``v (B, G, Tk, d)``; query head ``h`` uses key/value head
    ``h // (H // G)``. With ``is_causal``, query ``i`` sees keys ``0..i``. Returns ``(B, H, Tq, d)``.
    ``G = H`` is ordinary multi-head attention, ``G = 1`` multi-query attention.
    """
    H, G = q.shape[1], k.shape[1]
    if H % G:
        raise ValueError(f"the number of query heads ({H}) must be a multiple of the key/value heads ({G})")
    k = k.repeat_interleave(H // G, dim=1)  # (B, H, Tk, d)
    v = v.repeat_interleave(H // G, dim=1)  # (B, H, Tk, d)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, Tq, Tk)
    if is_causal:
        allowed = torch.ones(scores.shape[-2:], dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    return scores.softmax(dim=-1) @ v  # (B, H, Tq, d)
