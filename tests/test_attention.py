"""The reference attention in llmcourse.attention against PyTorch's own implementations."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmcourse.attention import (
    MultiHeadAttention,
    causal_mask,
    copy_mha_weights,
    scaled_dot_product_attention,
    sinusoidal_positional_encoding,
)

SHAPES = [  # (batch dims, Tq, Tk, d, dv)
    ((), 1, 1, 1, 1),
    ((3,), 4, 4, 8, 8),
    ((2, 3), 5, 7, 16, 4),
    ((2, 1, 2), 9, 3, 5, 6),
]
DTYPES = [(torch.float32, 1e-5), (torch.float64, 1e-10), (torch.bfloat16, 2e-2)]


def _close(actual, expected, atol, what):
    """Max abs difference within atol, relative to the expected values' scale when that exceeds 1."""
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    if actual.numel() == 0:
        return
    scale = max(1.0, expected.double().abs().max().item())
    diff = (actual.double() - expected.double()).abs().max().item()
    assert diff <= atol * scale, f"{what}: max abs diff {diff:.3g} > {atol} x scale {scale:.3g}"


@pytest.mark.parametrize("batch, Tq, Tk, d, dv", SHAPES)
@pytest.mark.parametrize("dtype, atol", DTYPES)
def test_sdpa_matches_torch(batch, Tq, Tk, d, dv, dtype, atol):
    g = torch.Generator().manual_seed(hash((batch, Tq, Tk, d, dv)) % 2**31)
    q = torch.randn(*batch, Tq, d, generator=g).to(dtype)
    k = torch.randn(*batch, Tk, d, generator=g).to(dtype)
    v = torch.randn(*batch, Tk, dv, generator=g).to(dtype)
    out, weights = scaled_dot_product_attention(q, k, v)
    _close(out, F.scaled_dot_product_attention(q, k, v), atol, "output")
    expected_w = torch.softmax(q.double() @ k.double().transpose(-2, -1) / math.sqrt(d), -1)
    _close(weights, expected_w, atol, "weights")


@pytest.mark.parametrize("batch, Tq, Tk, d, dv", SHAPES)
@pytest.mark.parametrize("mask_shape", ["full", "2d", "broadcast-batch"])
def test_sdpa_with_mask_matches_torch(batch, Tq, Tk, d, dv, mask_shape):
    g = torch.Generator().manual_seed(7)
    q, k, v = (
        torch.randn(*batch, Tq, d, generator=g),
        torch.randn(*batch, Tk, d, generator=g),
        torch.randn(*batch, Tk, dv, generator=g),
    )
    shape = {"full": (*batch, Tq, Tk), "2d": (Tq, Tk), "broadcast-batch": (*[1] * len(batch), Tq, Tk)}[mask_shape]
    mask = torch.rand(shape, generator=g) > 0.4
    mask[..., 0] = True  # every query may attend somewhere: PyTorch's result is then defined
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    _close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), 1e-5, "output")
    assert not weights.masked_select(~mask.expand_as(weights)).any(), "masked positions got weight"
    _close(weights.sum(-1), torch.ones(weights.shape[:-1]), 1e-5, "row sums")


def test_causal_mask():
    assert causal_mask(0).shape == (0, 0)
    m = causal_mask(5)
    assert m.dtype == torch.bool
    for i in range(5):
        for j in range(5):
            assert m[i, j] == (j <= i)
    q = torch.randn(2, 6, 4)
    out, _ = scaled_dot_product_attention(q, q, q, causal_mask(6))
    _close(out, F.scaled_dot_product_attention(q, q, q, is_causal=True), 1e-5, "causal output")


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = torch.randn(2, 4, 8, requires_grad=True), torch.randn(2, 6, 8), torch.randn(2, 6, 3)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[1] = False
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    assert (weights[:, 1] == 0).all() and (out[:, 1] == 0).all()
    _close(weights[:, [0, 2, 3]].sum(-1), torch.ones(2, 3), 1e-6, "other rows")
    out.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_sdpa_rejects_bad_input():
    q = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="last dim"):
        scaled_dot_product_attention(q, torch.randn(2, 3, 5), torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="Tk"):
        scaled_dot_product_attention(q, q, torch.randn(2, 4, 4))
    with pytest.raises(ValueError, match="broadcast"):
        scaled_dot_product_attention(q, q, q, torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        scaled_dot_product_attention(q, q, q, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="at least 2"):
        scaled_dot_product_attention(torch.randn(3), q, q)


@pytest.mark.parametrize("P, D", [(1, 1), (7, 4), (50, 33), (128, 64)])
def test_positional_encoding_formula(P, D):
    pe = sinusoidal_positional_encoding(P, D)
    assert pe.shape == (P, D) and pe.dtype == torch.float32
    for pos in sorted({0, 1, P // 2, P - 1} & set(range(P))):
        for i in range(D):
            angle = pos / 10000 ** (2 * (i // 2) / D)
            expected = math.sin(angle) if i % 2 == 0 else math.cos(angle)
            assert abs(pe[pos, i].item() - expected) < 1e-5, (pos, i)


def test_positional_encoding_rejects_bad_sizes():
    with pytest.raises(ValueError):
        sinusoidal_positional_encoding(4, 0)
    with pytest.raises(ValueError):
        sinusoidal_positional_encoding(-1, 4)


@pytest.mark.parametrize(
    "E, H, B, Tq, Tk, bias",
    [(8, 1, 1, 1, 1, True), (16, 4, 2, 5, 7, True), (24, 3, 3, 6, 6, False), (32, 8, 2, 3, 9, True)],
)
def test_mha_matches_torch(E, H, B, Tq, Tk, bias):
    torch.manual_seed(E * 100 + Tq)
    reference = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=True)
    with torch.no_grad():  # random biases, so a dropped bias is noticed
        for p in reference.parameters():
            p.normal_()
    mine = MultiHeadAttention(E, H, bias=bias)
    copy_mha_weights(reference, mine)
    x, y = torch.randn(B, Tq, E), torch.randn(B, Tk, E)
    for mask in (None, torch.rand(Tq, Tk) > 0.3, torch.rand(B, 1, Tq, Tk) > 0.3):
        if mask is not None:
            mask[..., 0] = True
        torch_mask = (
            None
            if mask is None
            else (~mask if mask.dim() == 2 else (~mask).expand(B, H, Tq, Tk).reshape(B * H, Tq, Tk))
        )
        expected, expected_w = reference(x, y, y, attn_mask=torch_mask, average_attn_weights=False)
        out, weights = mine(x, y, y, mask)
        _close(out, expected, 1e-4, "MHA output")
        _close(weights, expected_w, 1e-5, "MHA weights")


def test_mha_rejects_bad_input():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match=r"\(B, T, 8\)"):
        MultiHeadAttention(8, 2)(torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.randn(2, 3, 4))
