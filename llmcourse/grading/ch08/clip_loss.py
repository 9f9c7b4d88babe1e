"""Exercise 3, ``clip_loss(image_embeds, text_embeds, temperature)``, against Hugging Face's own
CLIP loss (``image_text_contrastive_loss`` in transformers 5, ``clip_loss`` in 4.x) on the
similarity logits, in float64, and its gradients by autograd."""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
import transformers.models.clip.modeling_clip as hf_clip

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    check,
    expect_float,
    expect_tensor,
    float_of,
    items_of,
    kind_of,
    to_plain,
)
from llmcourse.grading.kit import catalogue, seeded
from llmcourse.grading.runners.ch08 import RUNNERS
from llmcourse.grading.wire import tensor_meta, tuple_items

from .common import REFERENCE

HF_CLIP = "transformers.models.clip.modeling_clip"
# transformers 5 calls CLIP's loss image_text_contrastive_loss, 4.x clip_loss
HF_CLIP_LOSS_NAME = "image_text_contrastive_loss" if hasattr(hf_clip, "image_text_contrastive_loss") else "clip_loss"
hf_clip_loss = getattr(hf_clip, HF_CLIP_LOSS_NAME)


def _clip_case(sub, seed, N, D, temperature, scale, visible, dtype=torch.float32) -> Case:
    g = seeded(seed)
    image = torch.randn(N, D, generator=g, dtype=torch.float64)
    text = torch.randn(N, D, generator=g, dtype=torch.float64) + 0.8 * image  # matching pairs are similar
    if scale == "unit":
        image, text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    else:
        image = image * torch.rand(N, 1, generator=g, dtype=torch.float64).mul(4).add(0.3)
        text = text * torch.rand(N, 1, generator=g, dtype=torch.float64).mul(4).add(0.3)
    image, text = image.to(dtype), text.to(dtype)
    i64, t64 = image.double().clone().requires_grad_(), text.double().clone().requires_grad_()
    logits = F.normalize(i64, dim=-1) @ F.normalize(t64, dim=-1).T / temperature
    loss = hf_clip_loss(logits)
    grads = torch.autograd.grad(loss, (i64, t64))
    label = f"image_embeds ({N}, {D}), text_embeds ({N}, {D}), temperature={temperature}, " + (
        "unit-norm inputs" if scale == "unit" else "inputs of varied norms"
    )
    inputs = (image.numpy(), text.numpy(), temperature, sub == "grad")
    expected = to_plain((loss.float(), *(gr.float() for gr in grads))) if sub == "grad" else to_plain(loss.item())
    return Case(sub, inputs, expected, label, visible)


def _clip_cases(hidden: bool) -> list[Case]:
    cases = [
        _clip_case("symmetric", 0, 4, 8, 1.0, "unit", True),
        _clip_case("symmetric", 1, 6, 5, 1.0, "unit", True),
        _clip_case("temperature", 2, 4, 8, 0.07, "unit", True),
        _clip_case("temperature", 3, 5, 16, 0.5, "unit", True),
        _clip_case("normalise", 4, 4, 8, 1.0, "varied", True),
        _clip_case("grad", 5, 4, 8, 0.1, "varied", True),
    ]
    if hidden:
        for n, (N, D, t) in enumerate([(1, 3, 1.0), (2, 4, 0.2), (8, 32, 0.07), (16, 12, 0.01), (32, 64, 1 / 14.3)]):
            cases += [
                _clip_case("symmetric", 10 + n, N, D, 1.0, "unit", False),
                _clip_case("temperature", 20 + n, N, D, t, "unit", False),
                _clip_case("normalise", 30 + n, N, D, 1.0, "varied", False),  # temperature 1: the normalisation alone
                _clip_case("grad", 40 + n, N, D, t, "varied", False),
            ]
        cases.append(_clip_case("normalise", 50, 8, 16, 1.0, "varied", False, torch.float64))
    return cases


def _clip_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "grad":
        loss, g_image, g_text = items_of(got, "clip_loss (with gradients)", 3)
        e_loss, e_image, e_text = tuple_items(expected)
        if e_image is None or g_image is None:
            if e_image is None and g_image is None:  # compared with a catalogued mistake's result
                return
            raise GradingError(
                f"clip_loss for {case.label}: no gradient flows back to the embeddings: return a tensor computed "
                "from them with torch operations (no .item(), .detach() or numpy)"
            )
        expect_float(loss, cast(float, float_of(e_loss)), what="clip_loss", context=case.label, atol=1e-5, rtol=1e-4)
        expect_tensor(
            g_image, e_image, what="gradient of the loss w.r.t. image_embeds", context=case.label, atol=1e-5, rtol=1e-3
        )
        expect_tensor(
            g_text, e_text, what="gradient of the loss w.r.t. text_embeds", context=case.label, atol=1e-5, rtol=1e-3
        )
        return
    meta = tensor_meta(got)
    if meta is not None and not meta.has_shape(()):
        raise GradingError(
            f"clip_loss for {case.label}: expected a scalar (0-d) loss, got a tensor of shape {meta.shape}"
        )
    if float_of(got) is None:
        raise GradingError(f"clip_loss for {case.label}: expected a scalar loss, got {kind_of(got)}")
    expect_float(got, cast(float, float_of(expected)), what="clip_loss", context=case.label, atol=1e-5, rtol=1e-4)


# The catalogue, in the order a match is named: each id is a file in mistakes/clip_loss/.
MISTAKES = (
    "no_normalisation",
    "times_temperature",
    "one_direction",
    "sum_not_mean",
    "labels_zero",
    "sum_directions",
    "detached",
    "normalise_wrong_axis",
    "no_keepdim",
    "image_only_normalised",
    "loss_over_temperature",
    "sigmoid_loss",
    "per_pair",
)

CLIP_LOSS = Exercise(
    name="clip_loss",
    cell="clip_loss",
    test_cell="clip_loss_tests",
    points=4,
    subchecks=(
        SubCheck(
            "symmetric",
            1.5,
            "the mean of the two cross-entropies, image -> text (rows) and text -> image (columns), the match of "
            "image i being text i, each averaged over the batch",
        ),
        SubCheck("temperature", 1.0, "logits are the cosine similarities divided by temperature"),
        SubCheck("normalise", 1.0, "image and text embeddings are L2-normalised first, whatever their norms"),
        SubCheck("grad", 0.5, "returns a scalar tensor that gradients flow through to both inputs"),
    ),
    cases=_clip_cases,
    run=RUNNERS["clip_loss"],
    compare=_clip_compare,
    forbidden=Forbidden(
        python=(f"{REFERENCE}:clip_loss", f"{HF_CLIP}:{HF_CLIP_LOSS_NAME}", f"{HF_CLIP}:contrastive_loss"),
        names=("image_text_contrastive_loss", "contrastive_loss", "modeling_clip", REFERENCE),
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_clip_loss(fn, hidden: bool = False) -> None:
    """Exercise 3, against Hugging Face's CLIP loss on the same similarity logits, and the
    gradients autograd computes for it."""
    check(CLIP_LOSS, fn, hidden)
