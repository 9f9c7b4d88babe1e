"""Attention, built from small functions (chapter 02).

Shapes use these letters:
    B batch, H heads, Tq query positions, Tk key positions, d head size, E embedding size.

Masks are boolean and follow one convention everywhere in the course:
``True`` means "this query may attend to this key". (Note that
``torch.nn.MultiheadAttention`` uses the opposite convention for boolean masks.)
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_positional_encoding(num_positions: int, d_model: int) -> torch.Tensor:
    """The fixed positional encoding of "Attention Is All You Need" (2017).

    ``PE[pos, 2i] = sin(pos / 10000^(2i/d_model))`` and ``PE[pos, 2i+1] = cos(...)``.
    For odd ``d_model`` the last column is a sine.

    Returns a float32 tensor of shape ``(num_positions, d_model)``.
    """
    if num_positions < 0 or d_model <= 0:
        raise ValueError(
            f"need num_positions >= 0 and d_model > 0, got num_positions={num_positions}, d_model={d_model}"
        )
    position = torch.arange(num_positions, dtype=torch.float32).unsqueeze(1)  # (P, 1)
    even_dims = torch.arange(0, d_model, 2, dtype=torch.float32)  # (ceil(D/2),)
    inv_freq = torch.exp(-math.log(10000.0) * even_dims / d_model)  # 1 / 10000^(2i/d)
    angles = position * inv_freq  # (P, ceil(D/2))
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``(T, T)`` mask where position ``i`` may attend to positions ``0..i``."""
    if T < 0:
        raise ValueError(f"T must be >= 0, got {T}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def _check_attention_inputs(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> None:
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(
            f"q, k, v need at least 2 dims (..., T, d); got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dim d; got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions Tk; got k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    try:
        batch_shape = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the batch dims of q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} do not broadcast"
        ) from None
    if mask is None:
        return
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = may attend), got dtype {mask.dtype}")
    scores_shape = batch_shape + (q.shape[-2], k.shape[-2])
    try:
        if torch.broadcast_shapes(mask.shape, scores_shape) != scores_shape:
            raise RuntimeError
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape {tuple(scores_shape)}"
        ) from None


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T / sqrt(d) + masking) v``.

    Args:
        q: ``(..., Tq, d)`` queries.
        k: ``(..., Tk, d)`` keys.
        v: ``(..., Tk, dv)`` values.
        mask: optional bool tensor broadcastable to ``(..., Tq, Tk)``; ``True`` = may attend.

    Returns:
        ``(output, weights)`` with shapes ``(..., Tq, dv)`` and ``(..., Tq, Tk)``.

    A query whose row of the mask is entirely ``False`` attends to nothing: its weights are
    all zero and its output is the zero vector (instead of the NaN a plain softmax over
    ``-inf`` gives). Every other row of ``weights`` sums to one.
    """
    _check_attention_inputs(q, k, v, mask)
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., Tq, Tk)
    if mask is not None:
        # The most negative finite number rather than -inf: a fully masked row then gives a
        # finite (uniform) softmax, which the multiplication below turns into zeros.
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights * mask
    return weights @ v, weights  # (..., Tq, dv), (..., Tq, Tk)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with the same parameters as ``nn.MultiheadAttention``.

    Project queries, keys and values, split ``E`` into ``num_heads`` heads of size
    ``E // num_heads``, attend in each head, concatenate the heads and project again.
    Inputs are batch-first: ``(B, T, E)``.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, d)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query (B, Tq, E)`` to ``key``/``value (B, Tk, E)``.

        ``mask`` is bool, ``True`` = may attend, broadcastable to ``(B, H, Tq, Tk)``
        (``(Tq, Tk)`` and ``(B, 1, Tq, Tk)`` are the usual shapes).
        Returns ``(output (B, Tq, E), weights (B, H, Tq, Tk))``.
        """
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.dim() != 3 or x.shape[-1] != self.embed_dim:
                raise ValueError(f"{name} must have shape (B, T, {self.embed_dim}), got {tuple(x.shape)}")
        B, Tq, E = query.shape
        q = self._split_heads(self.q_proj(query))  # (B, H, Tq, d)
        k = self._split_heads(self.k_proj(key))  # (B, H, Tk, d)
        v = self._split_heads(self.v_proj(value))  # (B, H, Tk, d)
        heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, H, Tq, d)
        concat = heads.transpose(1, 2).reshape(B, Tq, E)  # (B, Tq, E)
        return self.out_proj(concat), weights


@torch.no_grad()
def copy_mha_weights(source: nn.MultiheadAttention, target: nn.Module) -> None:
    """Copy ``nn.MultiheadAttention`` weights into any module with ``q_proj``, ``k_proj``,
    ``v_proj`` and ``out_proj`` linear layers (the layout the course's exercises use)."""
    E, H = source.embed_dim, source.num_heads
    if getattr(target, "embed_dim", E) != E or getattr(target, "num_heads", H) != H:
        raise ValueError(
            f"shape mismatch: source has E={E}, H={H}; target has "
            f"E={getattr(target, 'embed_dim', '?')}, H={getattr(target, 'num_heads', '?')}"
        )
    if source.in_proj_weight is None:
        raise ValueError("only nn.MultiheadAttention with a packed in_proj_weight (kdim == vdim == E) is supported")
    wq, wk, wv = source.in_proj_weight.chunk(3)
    for proj, w in ((target.q_proj, wq), (target.k_proj, wk), (target.v_proj, wv)):
        proj.weight.copy_(w)
    target.out_proj.weight.copy_(source.out_proj.weight)
    if source.in_proj_bias is not None:
        bq, bk, bv = source.in_proj_bias.chunk(3)
        for proj, b in ((target.q_proj, bq), (target.k_proj, bk), (target.v_proj, bv)):
            proj.bias.copy_(b)
        target.out_proj.bias.copy_(source.out_proj.bias)
