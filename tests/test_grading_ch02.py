"""The graders of chapter 02 must pass valid alternative solutions and fail realistic mistakes."""
import math

import pytest
import torch
from torch import nn

from llmcourse import attention as reference
from llmcourse.grading import GradingError
from llmcourse.grading import ch02

# ------------------------------------------------------------------ positional encoding


def pe_loops(P, D):
    pe = torch.zeros(P, D)
    for pos in range(P):
        for i in range(D):
            angle = pos / (10000 ** ((i - i % 2) / D))
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe


def pe_float64_vectorised(P, D):
    pos = torch.arange(P, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, D, 2, dtype=torch.float64)
    angles = pos * torch.exp(-two_i * math.log(10000) / D)
    pe = torch.empty(P, D, dtype=torch.float64)
    pe[:, 0::2] = angles.sin()
    pe[:, 1::2] = angles.cos()[:, : D // 2]
    return pe


def pe_swapped_sin_cos(P, D):
    return pe_loops(P, D).roll(1, dims=1) if D > 1 else torch.ones(P, D)


def pe_exponent_i_not_2i(P, D):
    pe = torch.zeros(P, D)
    for pos in range(P):
        for i in range(D):
            angle = pos / (10000 ** (i / D))
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe


def pe_positions_from_one(P, D):
    return pe_loops(P + 1, D)[1:]


def pe_halves(P, D):
    pe = pe_float64_vectorised(P, D)
    return torch.cat([pe[:, 0::2], pe[:, 1::2]], dim=1)


def pe_transposed(P, D):
    return pe_loops(P, D).T


def pe_library(P, D):
    return reference.sinusoidal_positional_encoding(P, D)


@pytest.mark.parametrize("fn", [pe_loops, pe_float64_vectorised])
def test_pe_grader_passes_valid_solutions(fn):
    ch02.check_positional_encoding_examples(fn)
    ch02.check_positional_encoding(fn)


@pytest.mark.parametrize(
    "fn, message",
    [
        (pe_swapped_sin_cos, "differ"),
        (pe_exponent_i_not_2i, "differ"),
        (pe_positions_from_one, "differ"),
        (pe_halves, "differ"),
        (pe_transposed, "shape"),
        (pe_library, "must be written by you"),
    ],
)
def test_pe_grader_fails_mistakes(fn, message):
    with pytest.raises(GradingError, match=message):
        ch02.check_positional_encoding_examples(fn)
        ch02.check_positional_encoding(fn)


# ------------------------------------------------------------------ scaled dot-product attention


def sdpa_einsum(q, k, v, mask=None):
    scores = torch.einsum("...qd,...kd->...qk", q, k) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return torch.einsum("...qk,...kv->...qv", weights, v), weights


def sdpa_where_and_renormalise(q, k, v, mask=None):
    scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(k.size(-1)))
    exp = torch.exp(scores - scores.amax(-1, keepdim=True))
    if mask is not None:
        exp = torch.where(mask, exp, torch.zeros_like(exp))
    total = exp.sum(-1, keepdim=True)
    weights = exp / torch.where(total == 0, torch.ones_like(total), total)
    return weights @ v, weights


def sdpa_loops(q, k, v, mask=None):
    """Loop over the rows of a flattened batch: slow but valid."""
    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    Tq, Tk = q.shape[-2], k.shape[-2]
    qf = q.expand(*batch, *q.shape[-2:]).reshape(-1, Tq, q.shape[-1])
    kf = k.expand(*batch, *k.shape[-2:]).reshape(-1, Tk, k.shape[-1])
    vf = v.expand(*batch, *v.shape[-2:]).reshape(-1, Tk, v.shape[-1])
    mf = None if mask is None else mask.expand(*batch, Tq, Tk).reshape(-1, Tq, Tk)
    outs, ws = [], []
    for b in range(qf.shape[0]):
        w = torch.zeros(Tq, Tk, dtype=q.dtype)
        for i in range(Tq):
            s = kf[b] @ qf[b, i] / math.sqrt(q.shape[-1])
            allowed = torch.ones(Tk, dtype=torch.bool) if mf is None else mf[b, i]
            if allowed.any():
                w[i, allowed] = torch.softmax(s[allowed], dim=0)
        ws.append(w)
        outs.append(w @ vf[b])
    return torch.stack(outs).reshape(*batch, Tq, -1), torch.stack(ws).reshape(*batch, Tq, Tk)


def _make_sdpa(scale=None, softmax_dim=-1, mask_after=False, invert=False, nan_rows=False, upcast=False):
    def fn(q, k, v, mask=None):
        if upcast:
            q, k, v = q.float(), k.float(), v.float()
        s = q @ k.transpose(-2, -1)
        s = s / (math.sqrt(q.shape[-1]) if scale is None else scale(q.shape[-1]))
        m = None if mask is None else (~mask if invert else mask)
        if m is not None and not mask_after:
            s = s.masked_fill(~m, float("-inf"))
        w = torch.softmax(s, dim=softmax_dim)
        if m is not None and mask_after:
            w = w * m
        if m is not None and not nan_rows:
            w = w.nan_to_num(0.0)
        return w @ v, w

    return fn


def sdpa_swapped_return(q, k, v, mask=None):
    out, w = sdpa_einsum(q, k, v, mask)
    return w, out


def sdpa_torch(q, k, v, mask=None):
    from torch.nn.functional import scaled_dot_product_attention as fast  # an alias: still caught

    out = fast(q, k, v, attn_mask=mask)
    return out, torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1)


def sdpa_course(q, k, v, mask=None):
    return reference.scaled_dot_product_attention(q, k, v, mask)


def sdpa_transpose_1_2(q, k, v, mask=None):
    """Works for (B, T, d) only: wrong for other batch ranks."""
    w = torch.softmax((q @ k.transpose(1, 2)) / math.sqrt(q.shape[-1]), -1)
    return w @ v, w


@pytest.mark.parametrize("fn", [sdpa_einsum, sdpa_where_and_renormalise, sdpa_loops])
def test_sdpa_grader_passes_valid_solutions(fn):
    ch02.check_attention_examples(fn)
    ch02.check_attention(fn)


@pytest.mark.parametrize(
    "fn, message",
    [
        (_make_sdpa(scale=lambda d: 1.0), "differ"),  # missing scaling
        (_make_sdpa(scale=lambda d: d), "differ"),  # divides by d, not sqrt(d)
        (_make_sdpa(softmax_dim=-2), "differ"),  # softmax over the wrong axis
        (_make_sdpa(mask_after=True), "differ"),  # mask applied after softmax
        (_make_sdpa(invert=True), "differ|NaN"),  # True read as "blocked"
        (_make_sdpa(nan_rows=True), "NaN"),  # fully masked row left as NaN
        (_make_sdpa(upcast=True), "dtype"),  # returns float32 for float64 input
        (sdpa_swapped_return, "shape"),
        (sdpa_transpose_1_2, "shape|raised|differ"),
        (sdpa_torch, "must be written by you"),
        (sdpa_course, "must be written by you"),
    ],
)
def test_sdpa_grader_fails_mistakes(fn, message):
    with pytest.raises(GradingError, match=message):
        ch02.check_attention_examples(fn)
        ch02.check_attention(fn)


def test_unimplemented_stub_gets_a_clear_message():
    def stub(q, k, v, mask=None):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented"):
        ch02.check_attention_examples(stub)


# ------------------------------------------------------------------ multi-head attention


class MHAEinsum(nn.Module):
    """Valid: einsum over an explicit head axis."""

    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.h = num_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(embed_dim, embed_dim, bias=bias) for _ in range(4))

    def forward(self, query, key, value, mask=None):
        B, Tq, E = query.shape
        q = self.q_proj(query).unflatten(-1, (self.h, -1))  # (B, Tq, H, d)
        k = self.k_proj(key).unflatten(-1, (self.h, -1))
        v = self.v_proj(value).unflatten(-1, (self.h, -1))
        s = torch.einsum("bqhd,bkhd->bhqk", q, k) / self.scale(E, q.shape[-1])
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        w = s.softmax(-1)
        out = torch.einsum("bhqk,bkhd->bqhd", w, v).reshape(B, Tq, E)
        return self.out_proj(out), w

    def scale(self, embed_dim, head_dim):
        return math.sqrt(head_dim)


class MHAUsesOwnAttention(MHAEinsum):
    """Valid: calls the notebook's own scaled_dot_product_attention by name."""

    def forward(self, query, key, value, mask=None):
        B, Tq, E = query.shape
        split = lambda x: x.view(B, -1, self.h, E // self.h).transpose(1, 2)  # noqa: E731
        out, w = NAMESPACE["scaled_dot_product_attention"](split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask)
        return self.out_proj(out.transpose(1, 2).reshape(B, Tq, E)), w


NAMESPACE = {"scaled_dot_product_attention": _make_sdpa(scale=lambda d: 1.0)}  # a buggy attention


class MHAWrongSplit(MHAEinsum):
    def forward(self, query, key, value, mask=None):
        B, Tq, E = query.shape
        split = lambda x: x.reshape(B, self.h, -1, E // self.h)  # noqa: E731 - wrong: mixes positions and heads
        q, k, v = split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value))
        w = (q @ k.transpose(-2, -1) / math.sqrt(E // self.h)).masked_fill(~mask if mask is not None else torch.zeros((), dtype=torch.bool), float("-inf")).softmax(-1)
        return self.out_proj((w @ v).transpose(1, 2).reshape(B, Tq, E)), w


class MHANoOutProj(MHAEinsum):
    def forward(self, query, key, value, mask=None):
        out, w = super().forward(query, key, value, mask)
        return torch.linalg.solve(self.out_proj.weight, (out - (self.out_proj.bias if self.out_proj.bias is not None else 0)).unsqueeze(-1)).squeeze(-1), w


class MHAScaleByE(MHAEinsum):
    def scale(self, embed_dim, head_dim):
        return math.sqrt(embed_dim)  # wrong: the scores of a head have variance head_dim


class MHAIgnoresMask(MHAEinsum):
    def forward(self, query, key, value, mask=None):
        return super().forward(query, key, value, None)


class MHAWrapsTorch(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.inner = nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True)
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(embed_dim, embed_dim, bias=bias) for _ in range(4))

    def forward(self, query, key, value, mask=None):
        return self.inner(query, key, value, attn_mask=None if mask is None else ~mask, average_attn_weights=False)


class MHASubclassesCourse(reference.MultiHeadAttention):
    pass


@pytest.mark.parametrize("cls", [MHAEinsum, MHAUsesOwnAttention])
def test_mha_grader_passes_valid_solutions(cls):
    ch02.check_multi_head_attention_examples(cls, NAMESPACE)
    ch02.check_multi_head_attention(cls, NAMESPACE)
    assert NAMESPACE["scaled_dot_product_attention"].__name__ == "fn", "the student's function must be put back"


@pytest.mark.parametrize(
    "cls, message",
    [
        (MHAWrongSplit, "differ"),
        (MHANoOutProj, "differ"),
        (MHAScaleByE, "differ"),
        (MHAIgnoresMask, "differ"),
        (MHAWrapsTorch, "must be written by you"),
        (MHASubclassesCourse, "must be written by you"),
    ],
)
def test_mha_grader_fails_mistakes(cls, message):
    with pytest.raises(GradingError, match=message):
        ch02.check_multi_head_attention_examples(cls)
        ch02.check_multi_head_attention(cls)


def test_mha_grader_names_missing_layers():
    class NoLayers(nn.Module):
        def __init__(self, embed_dim, num_heads, bias=True):
            super().__init__()

    with pytest.raises(GradingError, match="q_proj"):
        ch02.check_multi_head_attention_examples(NoLayers)


def test_grader_is_not_fooled_by_a_patched_allclose(monkeypatch):
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(torch.testing, "assert_close", lambda *a, **k: None)
    with pytest.raises(GradingError):
        ch02.check_attention_examples(_make_sdpa(scale=lambda d: 1.0))
