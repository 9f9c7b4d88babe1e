"""Exercise 6, ``MultiHeadAttention(embed_dim, num_heads, bias=True)``, against
``nn.MultiheadAttention`` with the same weights; a correct ``scaled_dot_product_attention``
stands in for the student's while it runs."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    check,
    expect_tensor,
    items_of,
    to_plain,
)
from llmcourse.grading.kit import catalogue, seeded
from llmcourse.grading.runners.ch02 import PROJECTIONS, RUNNERS
from llmcourse.grading.wire import tuple_items

from .common import FUSED_ATEN, FUSED_TORCH, REFERENCE


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
    g = seeded(seed)
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
    out_e, weights_e = tuple_items(expected)
    expect_tensor(weights, weights_e, what="attention weights (B, H, Tq, Tk)", context=case.label, atol=1e-5, rtol=1e-4)
    expect_tensor(out, out_e, what="multi-head output", context=case.label, atol=1e-5, rtol=1e-4)


# The catalogue, in the order a match is named: each id is a file in mistakes/multi_head_attention/.
MISTAKES = (
    "no_out_proj",
    "wrong_head_split",
    "wrong_merge",
    "scale_by_embed_dim",
    "ignores_mask",
    "query_for_keys",
    "averaged_weights",
    "inverted_mask",
    "view_after_transpose",
    "query_length_for_keys",
    "one_projection",
    "no_scaling",
)

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
    mistakes=catalogue(__file__, MISTAKES),
)


def check_multi_head_attention(cls, hidden: bool = False) -> None:
    """Exercise 6, against ``nn.MultiheadAttention`` with the same weights; a correct attention
    stands in for your ``scaled_dot_product_attention`` while it runs."""
    check(MULTI_HEAD_ATTENTION, cls, hidden)
