"""Exercise 2, ``PatchEmbedding(in_channels, patch_size, embed_dim)``: ``proj``, an
``nn.Linear(C*p*p, E)``, applied to the patches, against the strided ``nn.Conv2d(C, E, p,
stride=p)`` whose weight is ``proj.weight`` reshaped to (E, C, p, p), flattened to (B, N, E). A
correct ``patchify`` stands in for the student's while it runs (``depends``)."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from llmcourse.grading.contract import Case, Exercise, Forbidden, GradingError, SubCheck, check, expect_tensor, to_plain
from llmcourse.grading.kit import catalogue, seeded
from llmcourse.grading.runners.ch08 import RUNNERS

from .common import CONV_NAMES, REFERENCE, UNFOLD_ATEN, UNFOLD_TORCH, random_images


def _embedding_case(sub, seed, B, C, H, W, p, E, visible) -> Case:
    g = seeded(seed)
    images = random_images(seed, B, C, H, W)
    weight = torch.randn(E, C * p * p, generator=g) * 0.5
    bias = torch.randn(E, generator=g)
    inputs = {
        "C": C,
        "p": p,
        "E": E,
        "images": images,
        "weight": weight.numpy(),
        "bias": bias.numpy(),
        "layer_only": sub == "layer",
    }
    label = f"PatchEmbedding(in_channels={C}, patch_size={p}, embed_dim={E}), images {tuple(images.shape)}"
    if sub == "layer":
        return Case(sub, inputs, to_plain([[E, C * p * p], True]), label, visible)
    conv = nn.Conv2d(C, E, p, stride=p).double()
    with torch.no_grad():
        conv.weight.copy_(weight.double().reshape(E, C, p, p))
        cast(torch.Tensor, conv.bias).copy_(bias.double())  # Conv2d's bias=True default
        expected = conv(torch.from_numpy(images).double()).flatten(2).transpose(1, 2)  # (B, N, E)
    return Case(sub, inputs, to_plain(expected.float()), label, visible)


def _embedding_cases(hidden: bool) -> list[Case]:
    cases = [
        _embedding_case("layer", 0, 1, 3, 4, 4, 2, 5, True),
        _embedding_case("layer", 1, 1, 1, 6, 6, 3, 4, True),
        _embedding_case("conv", 2, 2, 1, 4, 4, 2, 5, True),
        _embedding_case("conv", 3, 2, 3, 4, 6, 2, 8, True),
    ]
    if hidden:
        for n, (B, C, H, W, p, E) in enumerate(
            [(1, 1, 2, 2, 2, 1), (3, 2, 8, 4, 4, 6), (2, 3, 9, 6, 3, 16), (2, 3, 32, 32, 8, 32), (1, 4, 12, 16, 4, 7)]
        ):
            cases += [
                _embedding_case("layer", 10 + n, B, C, H, W, p, E, False),
                _embedding_case("conv", 20 + n, B, C, H, W, p, E, False),
            ]
    return cases


def _embedding_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "layer":
        C, p, E = case.inputs["C"], case.inputs["p"], case.inputs["E"]
        want = f"nn.Linear({C} * {p}**2 = {C * p * p}, {E}) with a bias"
        layer = got.get("list") if isinstance(got, dict) else None
        want_layer = expected.get("list") if isinstance(expected, dict) else None
        if layer is None:
            if want_layer is None:  # compared with a mistake that has no proj either
                return
            raise GradingError(f"{case.label}: needs an nn.Linear named proj, {want}; none found")
        shape, has_bias = layer[0].get("list"), layer[1]
        if want_layer is None or shape != want_layer[0].get("list") or has_bias is not want_layer[1]:
            raise GradingError(
                f"{case.label}: proj should be {want}; got weight {tuple(shape)}, bias "
                f"{'present' if has_bias else 'absent'}"
            )
        return
    expect_tensor(got, expected, what="patch embeddings (B, N, embed_dim)", context=case.label, atol=1e-4, rtol=1e-4)


# The catalogue, in the order a match is named: each id is a file in mistakes/patch_embedding/.
MISTAKES = (
    "wrong_order",
    "no_bias",
    "wrong_linear_size",
    "transposed",
    "grid_output",
    "weight_not_transposed",
    "bias_twice",
    "column_order",
    "activation",
    "not_named_proj",
    "linear_arguments_swapped",
    "pooled",
)

PATCH_EMBEDDING = Exercise(
    name="PatchEmbedding",
    cell="patch_embedding",
    test_cell="patch_embedding_tests",
    points=3,
    subchecks=(
        SubCheck("layer", 1.0, "proj is nn.Linear(in_channels * patch_size**2, embed_dim), with its bias"),
        SubCheck(
            "conv",
            2.0,
            "forward(images) is proj(patches), (B, N, embed_dim), equal to the strided nn.Conv2d whose weight is "
            "proj.weight reshaped to (E, C, p, p)",
        ),
    ),
    cases=_embedding_cases,
    run=RUNNERS["patch_embedding"],
    compare=_embedding_compare,
    depends={"patchify": f"{REFERENCE}:patchify"},
    forbidden=Forbidden(
        torch=UNFOLD_TORCH,
        aten=UNFOLD_ATEN,
        python=(f"{REFERENCE}:PatchEmbedding", "torch.nn:Conv2d", "torch.nn:Unfold"),
        names=CONV_NAMES,
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_patch_embedding(cls, hidden: bool = False) -> None:
    """Exercise 2, against a strided ``nn.Conv2d`` with proj's weight reshaped; a correct
    ``patchify`` stands in for yours while it runs."""
    check(PATCH_EMBEDDING, cls, hidden)
