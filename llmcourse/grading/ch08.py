"""Graded checks of chapter 08 (multimodal models), declared for the grading engine.

Test cells call ``check_patchify(fn)``, ``check_patch_embedding(cls)``, ``check_clip_loss(fn)`` and
``check_build_inputs(fn)`` (visible cases); the hidden part adds ``hidden=True``. Expected values
never come from the course's own code (``llmcourse.multimodal``):

- patches: ``F.unfold(images, p, stride=p).transpose(1, 2)``;
- the patch embedding: a strided ``nn.Conv2d(C, E, p, stride=p)`` whose weight is the linear
  layer's weight reshaped to (E, C, p, p), flattened to (B, N, E);
- CLIP's loss: Hugging Face's own CLIP loss (``image_text_contrastive_loss`` in transformers 5,
  ``clip_loss`` in 4.x) on the similarity logits, in float64, and its gradients by autograd;
- the connector: what Hugging Face's ``LlavaForConditionalGeneration`` (a tiny one, random
  weights, no download) hands its language model, in float64: the case's features put by its
  ``get_placeholder_mask`` / ``masked_scatter`` at the image tokens' positions, its projector and
  its embedding table the case's; the labels by LLaVA's convention (the ids where the loss
  counts, -100 elsewhere, unshifted); and the parameters autograd reaches through that forward
  (the projector's and the embedding's: the gradient requirement asks that they are reached).

Case inputs are numpy arrays (see chapter 03: tensors each take a file descriptor on their way
into the student's process); the runners (:mod:`llmcourse.grading.runners.ch08`) turn them back
into tensors.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
import transformers.models.clip.modeling_clip as hf_clip
import transformers.models.llava.modeling_llava  # noqa: F401 - loaded before a student's process starts (see ch07)
from torch import nn
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutputWithPooling

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    Mistake,
    SubCheck,
    array_of,
    check,
    expect_float,
    expect_tensor,
    float_of,
    items_of,
    kind_of,
    to_plain,
)
from llmcourse.grading.kit import seeded
from llmcourse.grading.runners.ch08 import RUNNERS, connector_parts

REFERENCE = "llmcourse.multimodal"
HF_CLIP = "transformers.models.clip.modeling_clip"
# transformers 5 calls CLIP's loss image_text_contrastive_loss, 4.x clip_loss
HF_CLIP_LOSS_NAME = "image_text_contrastive_loss" if hasattr(hf_clip, "image_text_contrastive_loss") else "clip_loss"
hf_clip_loss = getattr(hf_clip, HF_CLIP_LOSS_NAME)
UNFOLD_TORCH = ("torch.nn.functional.unfold", "torch.nn.functional.conv2d")
UNFOLD_ATEN = ("im2col", "convolution")
CONV_NAMES = ("Conv2d", "conv2d", "Unfold", "im2col", "_conv_forward", REFERENCE)


def _images(seed: int, B: int, C: int, H: int, W: int) -> np.ndarray:
    return torch.randn(B, C, H, W, generator=seeded(seed)).numpy()


def _label(images: np.ndarray, p: int) -> str:
    return f"images {tuple(images.shape)}, patch_size={p}"


# ---------------------------------------------------------------- exercise 1: patchify


def _patchify_case(sub, seed, B, C, H, W, p, visible) -> Case:
    images = _images(seed, B, C, H, W)
    if sub == "error":
        return Case(sub, (images, p), "ValueError", _label(images, p), visible)
    patches = F.unfold(torch.from_numpy(images).double(), p, stride=p).transpose(1, 2)  # (B, N, C*p*p)
    return Case(sub, (images, p), to_plain(patches.float()), _label(images, p), visible)


def _patchify_cases(hidden: bool) -> list[Case]:
    cases = [
        _patchify_case("shape", 0, 2, 3, 4, 4, 2, True),
        _patchify_case("shape", 1, 1, 1, 6, 9, 3, True),
        _patchify_case("order", 2, 2, 1, 4, 6, 2, True),
        _patchify_case("order", 3, 2, 3, 4, 4, 2, True),
        _patchify_case("error", 4, 1, 3, 5, 4, 2, True),
        _patchify_case("error", 5, 1, 1, 4, 6, 4, True),  # W is the one that is not a multiple
    ]
    if hidden:
        for n, (B, C, H, W, p) in enumerate(
            [(1, 1, 2, 2, 2), (3, 2, 8, 4, 4), (2, 3, 9, 6, 3), (1, 4, 12, 16, 4), (2, 3, 32, 32, 8)]
        ):
            cases += [
                _patchify_case("shape", 10 + n, B, C, H, W, p, False),
                _patchify_case("order", 20 + n, B, C, H, W, p, False),
            ]
        cases += [
            _patchify_case("error", 30, 2, 1, 4, 7, 2, False),
            _patchify_case("error", 31, 1, 3, 9, 9, 2, False),
            _patchify_case("error", 32, 1, 1, 16, 16, 5, False),
        ]
    return cases


def _patchify_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "error":
        if got != expected:
            raise GradingError(
                f"patchify with {case.label}: the image size is not a multiple of the patch size, "
                f"expected a ValueError, got {got if isinstance(got, str) else kind_of(got)}"
            )
        return
    if not (isinstance(got, dict) and "tensor" in got):
        raise GradingError(f"patchify with {case.label}: expected a torch.Tensor, got {kind_of(got)}")
    if case.subcheck == "shape":
        want = expected["tensor"]["shape"] if isinstance(expected, dict) and "tensor" in expected else None
        if got["tensor"]["shape"] != want:
            raise GradingError(
                f"patchify with {case.label}: expected shape (B, N, C*p*p) = {tuple(want or ())}, got "
                f"{tuple(got['tensor']['shape'])}"
            )
        return
    expect_tensor(got, expected, what="patches (B, N, C*p*p)", context=case.label, atol=1e-6, rtol=1e-5)


def _patchify_code(body: str) -> str:
    return "import torch\ndef patchify(images, patch_size):\n    B, C, H, W = images.shape\n    p = patch_size\n" + body


_CHECK = "    if H % p or W % p:\n        raise ValueError('image size is not a multiple of patch_size')\n"

PATCHIFY = Exercise(
    name="patchify",
    cell="patchify",
    test_cell="patchify_tests",
    points=3,
    subchecks=(
        SubCheck("shape", 0.5, "returns (B, N, C*p*p) with N = (H/p) * (W/p), also for non-square images"),
        SubCheck(
            "order", 1.5, "patches row by row over the grid, each flattened as (channel, row, column): F.unfold's order"
        ),
        SubCheck("error", 1.0, "raises ValueError when H or W is not a multiple of patch_size"),
    ),
    cases=_patchify_cases,
    run=RUNNERS["patchify"],
    compare=_patchify_compare,
    forbidden=Forbidden(
        torch=UNFOLD_TORCH,
        aten=UNFOLD_ATEN,
        python=(f"{REFERENCE}:patchify", "torch.nn:Conv2d", "torch.nn:Unfold"),
        names=CONV_NAMES,
    ),
    mistakes=(
        Mistake(
            "channels_last",
            "each of your patches is flattened as (row, column, channel), channels last; F.unfold's order is "
            "(channel, row, column)",
            _patchify_code(
                _CHECK
                + """    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(B, -1, C * p * p)
"""
            ),
        ),
        Mistake(
            "column_order",
            "your patches go column by column over the grid; they go row by row (left to right, then the next row)",
            _patchify_code(
                _CHECK
                + """    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 4, 2, 1, 3, 5)
    return x.reshape(B, -1, C * p * p)
"""
            ),
        ),
        Mistake(
            "no_error",
            "you crop (or pad) images whose size is not a multiple of patch_size: raise a ValueError instead",
            _patchify_code("""    images = images[:, :, : H // p * p, : W // p * p]
    H, W = H // p * p, W // p * p
    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * p * p)
"""),
        ),
        Mistake(
            "transposed",
            "you return (B, C*p*p, N), F.unfold's own layout: transpose the last two dimensions",
            _patchify_code(
                _CHECK
                + """    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * p * p).transpose(1, 2)
"""
            ),
        ),
        Mistake(
            "reshape_only",
            "you reshape the image straight to (B, N, C*p*p) without permuting, so a 'patch' is a run of consecutive "
            "pixels of one row, not a square",
            _patchify_code(
                _CHECK
                + """    return images.reshape(B, -1, C * p * p)
"""
            ),
        ),
        Mistake(
            "patch_transposed",
            "each of your patches is flattened as (channel, column, row): within a channel the pixels go row by row, "
            "(channel, row, column) as F.unfold",
            _patchify_code(
                _CHECK
                + """    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 5, 3)
    return x.reshape(B, -1, C * p * p)
"""
            ),
        ),
        Mistake(
            "height_only",
            "you only check that H is a multiple of patch_size: W must be one too",
            _patchify_code("""    if H % p:
        raise ValueError('image height is not a multiple of patch_size')
    x = images[:, :, :, : W // p * p].reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * p * p)
"""),
        ),
        Mistake(
            "width_only",
            "you only check that W is a multiple of patch_size: H must be one too",
            _patchify_code("""    if W % p:
        raise ValueError('image width is not a multiple of patch_size')
    x = images[:, :, : H // p * p].reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * p * p)
"""),
        ),
        Mistake(
            "assert",
            "you use assert, which raises AssertionError (and is skipped under python -O): raise ValueError",
            _patchify_code("""    assert H % p == 0 and W % p == 0, 'image size is not a multiple of patch_size'
    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * p * p)
"""),
        ),
        Mistake(
            "square_only",
            "you assume square images (W = H): the grid is H/p rows by W/p columns",
            _patchify_code(
                _CHECK
                + """    x = images.reshape(B, C, H // p, p, H // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, (H // p) ** 2, C * p * p)
"""
            ),
        ),
        Mistake(
            "view_after_permute",
            "view() after permute() fails (the permuted tensor is not contiguous): use reshape (or .contiguous().view)",
            _patchify_code(
                _CHECK
                + """    x = images.view(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.view(B, -1, C * p * p)
"""
            ),
        ),
        Mistake(
            "pads",
            "you pad images whose size is not a multiple of patch_size with zeros: raise a ValueError instead",
            _patchify_code("""    images = torch.nn.functional.pad(images, (0, -W % p, 0, -H % p))
    H, W = images.shape[-2:]
    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * p * p)
"""),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 2: PatchEmbedding


def _embedding_case(sub, seed, B, C, H, W, p, E, visible) -> Case:
    g = seeded(seed)
    images = _images(seed, B, C, H, W)
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


_PE_HEAD = """import torch
from torch import nn
class PatchEmbedding(nn.Module):
    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        self.patch_size = patch_size
"""

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
    mistakes=(
        Mistake(
            "wrong_order",
            "your patches are flattened as (row, column, channel), so proj.weight does not match the convolution's "
            "kernel reshaped to (E, C, p, p): flatten each patch as (channel, row, column)",
            _PE_HEAD
            + """        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim)

    def forward(self, images):
        B, C, H, W = images.shape
        p = self.patch_size
        x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1).reshape(B, -1, C * p * p)
        return self.proj(x)
""",
        ),
        Mistake(
            "no_bias",
            "your proj has no bias (bias=False); the convolution it equals has one",
            _PE_HEAD
            + """        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim, bias=False)

    def forward(self, images):
        return self.proj(patchify(images, self.patch_size))
""",
        ),
        Mistake(
            "wrong_linear_size",
            "your proj takes patch_size**2 inputs, one channel's worth: a patch has in_channels * patch_size**2 "
            "numbers",
            _PE_HEAD
            + """        self.proj = nn.Linear(patch_size ** 2, embed_dim)

    def forward(self, images):
        B, C, H, W = images.shape
        p = self.patch_size
        x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, -1, C, p * p)
        return self.proj(x).sum(2)
""",
        ),
        Mistake(
            "transposed",
            "you return (B, embed_dim, N), the convolution's layout: the course's layout is (B, N, embed_dim)",
            _PE_HEAD
            + """        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim)

    def forward(self, images):
        return self.proj(patchify(images, self.patch_size)).transpose(1, 2)
""",
        ),
        Mistake(
            "grid_output",
            "you return a grid (B, embed_dim, H/p, W/p) as the convolution does; flatten it to (B, N, embed_dim)",
            _PE_HEAD
            + """        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim)

    def forward(self, images):
        B, C, H, W = images.shape
        p = self.patch_size
        out = self.proj(patchify(images, p))
        return out.transpose(1, 2).reshape(B, -1, H // p, W // p)
""",
        ),
        Mistake(
            "weight_not_transposed",
            "you multiply the patches by proj.weight itself, (embed_dim, C*p*p); nn.Linear computes x @ weight.T + "
            "bias: call self.proj(patches)",
            _PE_HEAD
            + """        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim)

    def forward(self, images):
        return patchify(images, self.patch_size) @ self.proj.weight + self.proj.bias
""",
        ),
        Mistake(
            "bias_twice",
            "you add proj.bias after calling proj, which already adds it: the bias counts twice",
            _PE_HEAD
            + """        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim)

    def forward(self, images):
        return self.proj(patchify(images, self.patch_size)) + self.proj.bias
""",
        ),
        Mistake(
            "column_order",
            "your patches go column by column over the grid; they go row by row, as patchify's (and the "
            "convolution's output flattened)",
            _PE_HEAD
            + """        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim)

    def forward(self, images):
        B, C, H, W = images.shape
        p = self.patch_size
        x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 4, 2, 1, 3, 5).reshape(B, -1, C * p * p)
        return self.proj(x)
""",
        ),
        Mistake(
            "activation",
            "you apply an activation after proj: the patch embedding is linear, as the convolution it equals",
            _PE_HEAD
            + """        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim)

    def forward(self, images):
        return torch.nn.functional.gelu(self.proj(patchify(images, self.patch_size)))
""",
        ),
        Mistake(
            "not_named_proj",
            "your linear layer is not named proj: the checks (and ViT code) look for self.proj",
            _PE_HEAD
            + """        self.linear = nn.Linear(in_channels * patch_size ** 2, embed_dim)

    def forward(self, images):
        return self.linear(patchify(images, self.patch_size))
""",
        ),
        Mistake(
            "linear_arguments_swapped",
            "your proj is nn.Linear(embed_dim, in_channels * patch_size**2): nn.Linear takes (in_features, "
            "out_features)",
            _PE_HEAD
            + """        self.proj = nn.Linear(embed_dim, in_channels * patch_size ** 2)

    def forward(self, images):
        return self.proj(patchify(images, self.patch_size))
""",
        ),
        Mistake(
            "pooled",
            "you average over the patches, (B, embed_dim): return one embedding per patch, (B, N, embed_dim)",
            _PE_HEAD
            + """        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim)

    def forward(self, images):
        return self.proj(patchify(images, self.patch_size)).mean(1)
""",
        ),
    ),
)


# ---------------------------------------------------------------- exercise 3: CLIP's loss


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
        e_loss, e_image, e_text = expected["tuple"]
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
    if isinstance(got, dict) and "tensor" in got and got["tensor"]["shape"] != []:
        raise GradingError(
            f"clip_loss for {case.label}: expected a scalar (0-d) loss, got a tensor of shape "
            f"{tuple(got['tensor']['shape'])}"
        )
    if float_of(got) is None:
        raise GradingError(f"clip_loss for {case.label}: expected a scalar loss, got {kind_of(got)}")
    expect_float(got, cast(float, float_of(expected)), what="clip_loss", context=case.label, atol=1e-5, rtol=1e-4)


def _clip_code(body: str) -> str:
    return (
        "import torch\nimport torch.nn.functional as F\ndef clip_loss(image_embeds, text_embeds, temperature):\n" + body
    )


_NORM = (
    "    image = image_embeds / image_embeds.norm(dim=-1, keepdim=True)\n"
    "    text = text_embeds / text_embeds.norm(dim=-1, keepdim=True)\n"
)
_LABELS = "    labels = torch.arange(len(image_embeds))\n"

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
    mistakes=(
        Mistake(
            "no_normalisation",
            "you do not L2-normalise the embeddings: CLIP's logits are cosine similarities",
            _clip_code(
                _LABELS
                + """
    logits = image_embeds @ text_embeds.T / temperature
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
"""
            ),
        ),
        Mistake(
            "times_temperature",
            "you multiply the similarities by the temperature; divide by it (CLIP's learned logit scale is 1 / "
            "temperature)",
            _clip_code(
                _NORM
                + _LABELS
                + """
    logits = image @ text.T * temperature
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
"""
            ),
        ),
        Mistake(
            "one_direction",
            "your loss has only the image -> text direction; CLIP averages it with text -> image (the transposed "
            "logits)",
            _clip_code(
                _NORM
                + _LABELS
                + """
    logits = image @ text.T / temperature
    return F.cross_entropy(logits, labels)
"""
            ),
        ),
        Mistake(
            "sum_not_mean",
            "you sum the cross-entropies over the batch; CLIP takes their mean",
            _clip_code(
                _NORM
                + _LABELS
                + """
    logits = image @ text.T / temperature
    return (F.cross_entropy(logits, labels, reduction="sum") + F.cross_entropy(logits.T, labels, reduction="sum")) / 2
"""
            ),
        ),
        Mistake(
            "labels_zero",
            "your labels are all 0; the right text of image i is text i: labels = arange(N)",
            _clip_code(
                _NORM
                + """
    logits = image @ text.T / temperature
    labels = torch.zeros(len(image_embeds), dtype=torch.long)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
"""
            ),
        ),
        Mistake(
            "sum_directions",
            "you add the two directions without halving: CLIP averages them",
            _clip_code(
                _NORM
                + _LABELS
                + """
    logits = image @ text.T / temperature
    return F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)
"""
            ),
        ),
        Mistake(
            "detached",
            "your loss is not connected to the embeddings (.item(), .detach() or numpy): gradients must flow",
            _clip_code(
                _NORM
                + _LABELS
                + """
    logits = (image @ text.T / temperature).detach()
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
"""
            ),
        ),
        Mistake(
            "normalise_wrong_axis",
            "you normalise along dim=0 (each feature over the batch); each embedding is normalised along its own "
            "features, dim=-1",
            _clip_code(
                _LABELS
                + """
    image = image_embeds / image_embeds.norm(dim=0, keepdim=True)
    text = text_embeds / text_embeds.norm(dim=0, keepdim=True)
    logits = image @ text.T / temperature
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
"""
            ),
        ),
        Mistake(
            "no_keepdim",
            "you divide by norm(dim=-1) without keepdim=True: an (N,) vector divides the columns, not the rows; keep "
            "the dimension, (N, 1)",
            _clip_code(
                _LABELS
                + """
    image = image_embeds / image_embeds.norm(dim=-1)
    text = text_embeds / text_embeds.norm(dim=-1)
    logits = image @ text.T / temperature
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
"""
            ),
        ),
        Mistake(
            "image_only_normalised",
            "you normalise the image embeddings only: the text embeddings are L2-normalised too",
            _clip_code(
                _LABELS
                + """
    image = image_embeds / image_embeds.norm(dim=-1, keepdim=True)
    logits = image @ text_embeds.T / temperature
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
"""
            ),
        ),
        Mistake(
            "loss_over_temperature",
            "you divide the loss by the temperature; the temperature divides the logits, before the softmax",
            _clip_code(
                _NORM
                + _LABELS
                + """
    logits = image @ text.T
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2 / temperature
"""
            ),
        ),
        Mistake(
            "sigmoid_loss",
            "you score each pair with a sigmoid (binary cross-entropy, as SigLIP does); CLIP's loss is the softmax "
            "cross-entropy over each row and each column",
            _clip_code(
                _NORM
                + """
    logits = image @ text.T / temperature
    return F.binary_cross_entropy_with_logits(logits, torch.eye(len(logits), dtype=logits.dtype))
"""
            ),
        ),
        Mistake(
            "per_pair",
            "you return a loss per pair, (N,) (reduction='none'): CLIP's loss is one number, each cross-entropy "
            "averaged over the batch",
            _clip_code(
                _NORM
                + _LABELS
                + """
    logits = image @ text.T / temperature
    return (F.cross_entropy(logits, labels, reduction="none") + F.cross_entropy(logits.T, labels, reduction="none")) / 2
"""
            ),
        ),
    ),
)

# ---------------------------------------------------------------- exercise 4: the connector


class _FeaturesAsHiddenStates(nn.Module):
    """Stands in for LLaVA's vision tower: the "pixel values" it is given are the case's image
    features, returned as its only hidden state (with ``vision_feature_select_strategy="full"``
    LLaVA keeps every position and hands them to its projector)."""

    def forward(self, pixel_values: torch.Tensor, **kwargs: Any) -> BaseModelOutputWithPooling:
        return BaseModelOutputWithPooling(last_hidden_state=pixel_values, hidden_states=(pixel_values,))


class _Captured(Exception):
    """Raised by the hook once LLaVA has built the language model's inputs: nothing else is needed."""


def tiny_llava(V: int, D_img: int, D: int) -> LlavaForConditionalGeneration:
    """A random float64 ``LlavaForConditionalGeneration`` (no download): a one-layer Llama of width
    ``D`` whose vocabulary is the case's ``V`` tokens, then the image token (id ``V``) and the
    padding token (id ``V + 1``, a zero embedding); its vision tower hands the case's features on."""
    vision = CLIPVisionConfig(
        hidden_size=D_img, intermediate_size=8, num_hidden_layers=1, num_attention_heads=1, image_size=4, patch_size=2
    )
    text = LlamaConfig(
        vocab_size=V + 2,
        hidden_size=D,
        intermediate_size=8,
        num_hidden_layers=1,
        num_attention_heads=1,
        num_key_value_heads=1,
        pad_token_id=V + 1,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=V,
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
        projector_hidden_act="gelu",
    )
    model = LlavaForConditionalGeneration(config).double()
    model.model.vision_tower = _FeaturesAsHiddenStates()
    return model


def llava_builds(
    inputs: dict[str, Any],
) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]:
    """What LLaVA hands its language model for the case, in float64, and the gradients.

    Each row's ids are N image tokens, the prompt, the caption and padding tokens (right); LLaVA
    embeds them, puts the projected features at the image tokens' positions (``masked_scatter``)
    and passes ``inputs_embeds`` and the attention mask on: a hook on its language model catches
    them. Labels follow LLaVA's convention: the ids where the loss counts (the caption), -100
    elsewhere, unshifted (its loss shifts them). Gradients: of ``0.5 * (inputs_embeds ** 2).sum()``
    w.r.t. the projector's parameters and the case's rows of the embedding table.
    """
    features, projector, prompts, captions, embed = connector_parts(inputs)
    V, D = embed.weight.shape
    B, N, D_img = features.shape
    model = tiny_llava(V, D_img, D)
    if inputs["projector"] == "mlp":  # LLaVA-1.5's own projector: linear_1, GELU, linear_2
        llava_projector = model.model.multi_modal_projector
        params = [
            llava_projector.linear_1.weight,
            llava_projector.linear_1.bias,
            llava_projector.linear_2.weight,
            llava_projector.linear_2.bias,
        ]
    else:  # LLaVA's linear W in place of its MLP
        llava_projector = model.model.multi_modal_projector = nn.Linear(D_img, D).double()
        params = [llava_projector.weight, llava_projector.bias]
    table = model.model.language_model.embed_tokens.weight
    with torch.no_grad():
        for param, case_param in zip(params, projector.parameters(), strict=True):
            param.copy_(case_param.double())
        table[:V] = embed.weight.double()
        table[V + 1] = 0.0
    lengths = [N + len(p) + len(c) for p, c in zip(prompts, captions)]
    T = max(lengths)
    input_ids = torch.full((B, T), V + 1)
    attention_mask = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100)
    for b in range(B):
        input_ids[b, : lengths[b]] = torch.cat([torch.full((N,), V), prompts[b], captions[b]])
        attention_mask[b, : lengths[b]] = 1
        labels[b, lengths[b] - len(captions[b]) : lengths[b]] = input_ids[b, lengths[b] - len(captions[b]) : lengths[b]]
    captured: dict[str, Any] = {}

    def catch(module: nn.Module, args: tuple, kwargs: dict) -> None:
        captured.update(kwargs)
        raise _Captured

    hook = model.model.language_model.register_forward_pre_hook(catch, with_kwargs=True)
    try:
        model(input_ids=input_ids, pixel_values=features.double(), attention_mask=attention_mask)
    except _Captured:
        pass
    finally:
        hook.remove()
    inputs_embeds = captured["inputs_embeds"]  # (B, T, D) float64
    grads = torch.autograd.grad(0.5 * (inputs_embeds**2).sum(), [*params, table])
    grads = (*grads[:-1], grads[-1][:V])
    return (inputs_embeds.detach(), captured["attention_mask"], labels), grads


def _connector_case(
    sub: str,
    seed: int,
    B: int,
    N: int,
    D_img: int,
    D: int,
    V: int,
    prompts: list[int],
    captions: list[int],
    visible: bool,
    projector: str = "linear",
    feature_dtype: torch.dtype = torch.float32,
    embed_dtype: torch.dtype = torch.float32,
) -> Case:
    g = seeded(seed)
    features = torch.randn(B, N, D_img, generator=g, dtype=torch.float64)
    sizes = [(D, D_img), (D,)] if projector == "linear" else [(D, D_img), (D,), (D, D), (D,)]
    weights = [torch.randn(*size, generator=g, dtype=torch.float64) / size[-1] ** 0.5 for size in sizes]
    table = torch.randn(V, D, generator=g, dtype=torch.float64).to(embed_dtype)  # rounded to the embedding's dtype
    inputs = {
        "features": features.to(feature_dtype).numpy(),
        "projector": projector,
        "weights": [w.to(feature_dtype).numpy() for w in weights],
        "embedding": table.to(torch.float64 if embed_dtype == torch.float64 else torch.float32).numpy(),
        "dtype": str(embed_dtype).removeprefix("torch."),
        "prompts": [torch.randint(V, (n,), generator=g).numpy() for n in prompts],
        "captions": [torch.randint(V, (n,), generator=g).numpy() for n in captions],
        "grad": sub == "grad",
    }
    built, grads = llava_builds(inputs)
    embeds, mask, labels = built
    expected = (embeds.to(embed_dtype), mask, labels)
    kind = f"nn.Linear({D_img}, {D})" if projector == "linear" else f"MLP {D_img} -> {D} -> {D}"
    label = (
        f"image_features ({B}, {N}, {D_img}) {str(feature_dtype).removeprefix('torch.')}, projector {kind}, "
        f"prompt lengths {prompts}, caption lengths {captions}, embed ({V}, {D}) {inputs['dtype']}"
    )
    return Case(sub, inputs, to_plain((expected, grads) if sub == "grad" else expected), label, visible)


def _connector_cases(hidden: bool) -> list[Case]:
    cases = [
        _connector_case("embeds", 0, 2, 3, 5, 6, 17, [2, 2], [3, 3], True),
        _connector_case("embeds", 1, 3, 2, 4, 8, 23, [1, 1, 1], [2, 2, 2], True, "mlp"),
        _connector_case("labels", 2, 2, 3, 5, 6, 17, [2, 2], [3, 3], True),
        _connector_case("labels", 3, 3, 4, 3, 4, 29, [3, 3, 3], [2, 2, 2], True),
        _connector_case("mask", 4, 2, 3, 5, 6, 17, [2, 2], [3, 3], True),
        _connector_case("padding", 5, 3, 2, 4, 6, 19, [1, 3, 2], [4, 1, 2], True),
        _connector_case("padding", 6, 2, 3, 5, 4, 13, [2, 2], [1, 3], True),
        _connector_case("grad", 7, 2, 3, 5, 6, 17, [2, 2], [3, 3], True),
        _connector_case("grad", 8, 3, 2, 4, 8, 23, [1, 1, 1], [2, 2, 2], True, "mlp"),
        _connector_case("dtype", 9, 2, 3, 5, 6, 17, [2, 2], [3, 3], True, feature_dtype=torch.float64),
        _connector_case("dtype", 10, 2, 2, 4, 8, 11, [1, 1], [2, 2], True, embed_dtype=torch.bfloat16),
    ]
    if hidden:
        sizes = [
            (1, 1, 3, 2, 7, [1], [1]),
            (4, 16, 12, 32, 100, [5, 5, 5, 5], [3, 3, 3, 3]),
            (2, 9, 8, 16, 50, [4, 4], [6, 6]),
        ]
        for n, (B, N, D_img, D, V, prompts, captions) in enumerate(sizes):
            for k, sub in enumerate(("embeds", "labels", "mask", "grad")):
                cases.append(
                    _connector_case(
                        sub, 20 + 10 * n + k, B, N, D_img, D, V, prompts, captions, False, ("linear", "mlp")[n % 2]
                    )
                )
        for n, (B, N, D_img, D, V, prompts, captions) in enumerate(
            [
                (4, 4, 6, 8, 40, [1, 4, 2, 3], [5, 1, 3, 2]),
                (2, 16, 12, 32, 100, [7, 2], [2, 9]),
                (3, 1, 3, 2, 5, [2, 1, 1], [1, 1, 3]),
            ]
        ):
            cases.append(
                _connector_case(
                    "padding", 60 + n, B, N, D_img, D, V, prompts, captions, False, ("mlp", "linear")[n % 2]
                )
            )
        cases += [
            _connector_case("dtype", 70, 3, 4, 6, 8, 30, [2, 2, 2], [1, 1, 1], False, "mlp", torch.float64),
            _connector_case("dtype", 71, 2, 5, 3, 16, 40, [3, 3], [2, 2], False, embed_dtype=torch.bfloat16),
            _connector_case("dtype", 72, 2, 3, 5, 6, 17, [2, 2], [3, 3], False, embed_dtype=torch.float64),
        ]
    return cases


_PARTS = ("inputs_embeds (B, T, D)", "attention_mask (B, T)", "labels (B, T)")
_PADDING = ("zeros", "0", "-100")


def _tensor_dtype(plain: Any) -> str | None:
    return plain["tensor"]["dtype"] if isinstance(plain, dict) and "tensor" in plain else None


def _padding_compare(case: Case, got: list, expected: list) -> None:
    """Every row's positions after its own length (N + its prompt + its caption) are padding."""
    N = np.array(case.inputs["features"]).shape[1]
    lengths = [N + len(p) + len(c) for p, c in zip(case.inputs["prompts"], case.inputs["captions"])]
    for what, pad, g, e in zip(_PARTS, _PADDING, got, expected, strict=True):
        if not (isinstance(g, dict) and "tensor" in g):
            raise GradingError(f"{what} for {case.label}: expected a torch.Tensor, got {kind_of(g)}")
        a, want = array_of(g), array_of(e)
        if a is None or want is None:  # compared with a catalogued mistake's result that is no tensor
            raise GradingError(f"{what}: a tensor where the mistake has none")
        if a.shape != want.shape:
            raise GradingError(
                f"{what} for {case.label}: expected shape {want.shape} (T = N + the longest prompt + caption "
                f"= {max(lengths)}), got {a.shape}"
            )
        for b, L in enumerate(lengths):
            tail, want_tail = a[b, L:].astype(np.float64), want[b, L:].astype(np.float64)
            if tail.shape != want_tail.shape or not np.allclose(tail, want_tail, atol=1e-6, rtol=0):
                T = a.shape[1]
                where = f"position {L} is" if T - L == 1 else f"positions {L} to {T - 1} are"
                values = ", ".join(f"{x:.4g}" for x in tail.reshape(-1)[:6]) + (", ..." if tail.size > 6 else "")
                raise GradingError(
                    f"{what} for {case.label}: item {b} is {L} positions long (N + prompt + caption), so its "
                    f"{where} right padding, expected {pad} there; got [{values}]"
                )


def _connector_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "grad":  # what its text states: a gradient reaches each parameter (not its values: "embeds")
        _, grads = items_of(got, "build_inputs (with gradients)", 2)
        _, e_grads = items_of(expected, "build_inputs (with gradients)", 2)
        names = (
            ["projector.weight", "projector.bias"]
            if case.inputs["projector"] == "linear"
            else ["projector[0].weight", "projector[0].bias", "projector[2].weight", "projector[2].bias"]
        ) + ["embed.weight"]
        g_items = [None] * len(names) if grads is None else items_of(grads, "gradients", len(names))
        e_items = [None] * len(names) if e_grads is None else items_of(e_grads, "gradients", len(names))
        for name, g, e in zip(names, g_items, e_items):
            values = array_of(g)
            reaches = values is not None and bool(np.isfinite(values).all() and values.any())
            if e is None:  # compared with a catalogued mistake's result
                if reaches:
                    raise GradingError("a gradient where the mistake has none")
                continue
            if not reaches:
                raise GradingError(
                    f"build_inputs for {case.label}: no gradient of inputs_embeds reaches {name}: build inputs_embeds "
                    "from projector(image_features) and embed(ids) without .detach(), torch.no_grad(), .data or "
                    "torch.tensor(...)"
                )
        return
    parts = items_of(got, "build_inputs (inputs_embeds, attention_mask, labels)", 3)
    wanted = items_of(expected, "build_inputs (inputs_embeds, attention_mask, labels)", 3)
    if case.subcheck == "padding":
        _padding_compare(case, parts, wanted)
        return
    if case.subcheck == "dtype":  # what its text states: the dtype (the values are the "embeds" requirement's)
        want = _tensor_dtype(wanted[0])
        if _tensor_dtype(parts[0]) != want:
            got_as = f"torch.{_tensor_dtype(parts[0])}" if _tensor_dtype(parts[0]) else kind_of(parts[0])
            raise GradingError(
                f"inputs_embeds for {case.label}: expected the embedding's dtype, torch.{want}, got {got_as}"
            )
        return
    index = {"embeds": 0, "mask": 1, "labels": 2}[case.subcheck]
    dtype = _tensor_dtype(wanted[index]) if case.subcheck == "labels" else None
    expect_tensor(
        parts[index], wanted[index], what=_PARTS[index], context=case.label, dtype=dtype, atol=1e-5, rtol=1e-4
    )


_CONNECTOR = """import torch
def build_inputs(image_features, projector, prompt_ids, caption_ids, embed):
    visual = projector(image_features).to(embed.weight.dtype)  # (B, N, D)
    B, N, D = visual.shape
    lengths = [N + len(p) + len(c) for p, c in zip(prompt_ids, caption_ids)]
    T = max(lengths)
    inputs_embeds = visual.new_zeros(B, T, D)
    attention_mask = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b in range(B):
        L = lengths[b]
        text = embed(torch.cat([prompt_ids[b], caption_ids[b]]))
        inputs_embeds[b, :L] = torch.cat([visual[b], text])
        attention_mask[b, :L] = 1
        labels[b, L - len(caption_ids[b]):L] = caption_ids[b]
    return inputs_embeds, attention_mask, labels
"""


def _connector_variant(*changes: tuple[str, str]) -> str:
    """The connector with each ``(old, new)`` change made (each ``old`` appears exactly once)."""
    code = _CONNECTOR
    for old, new in changes:
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    return code


_ROW = "        inputs_embeds[b, :L] = torch.cat([visual[b], text])\n"
_LABEL = "        labels[b, L - len(caption_ids[b]):L] = caption_ids[b]\n"

BUILD_INPUTS = Exercise(
    name="build_inputs",
    cell="build_inputs",
    test_cell="build_inputs_tests",
    points=4,
    subchecks=(
        SubCheck(
            "embeds",
            1.0,
            "inputs_embeds (B, T, D): row b is projector(image_features[b]) (N positions), then "
            "embed(prompt_ids[b]), then embed(caption_ids[b])",
        ),
        SubCheck(
            "labels",
            1.0,
            "labels (B, T), torch.long: -100 on the image and prompt positions, caption_ids[b] on the "
            "caption's own positions, not shifted (the model shifts them)",
        ),
        SubCheck("mask", 0.5, "attention_mask (B, T): 1 on every image, prompt and caption position"),
        SubCheck(
            "padding",
            0.5,
            "rows of different lengths are right-padded to the longest, T = N + max(len(prompt) + "
            "len(caption)): zeros in inputs_embeds, 0 in attention_mask, -100 in labels",
        ),
        SubCheck(
            "grad", 0.5, "gradients flow from inputs_embeds to the projector's parameters and the embedding's weight"
        ),
        SubCheck("dtype", 0.5, "inputs_embeds has the embedding's dtype, whatever the projector's"),
    ),
    cases=_connector_cases,
    run=RUNNERS["build_inputs"],
    compare=_connector_compare,
    forbidden=Forbidden(
        python=(f"{REFERENCE}:build_inputs", "transformers.models.llava.modeling_llava:LlavaModel"),
        names=("modeling_llava", "LlavaModel", "LlavaForConditionalGeneration", REFERENCE),
    ),
    mistakes=(
        Mistake(
            "not_projected",
            "you put image_features into the sequence as they are: pass them through projector first, "
            "which maps their width D_img to the language model's width D",
            _connector_variant(("visual = projector(image_features).to(", "visual = image_features.to(")),
        ),
        Mistake(
            "image_after_prompt",
            "your visual tokens come after the prompt; they come first: the projected features, "
            "then the prompt, then the caption",
            _connector_variant(
                (
                    _ROW,
                    "        inputs_embeds[b, :L] = "
                    "torch.cat([embed(prompt_ids[b]), visual[b], embed(caption_ids[b])])\n",
                )
            ),
        ),
        Mistake(
            "labels_on_prompt",
            "your labels hold the prompt's ids too: the prompt is given, not learned; only the "
            "caption's positions carry labels, the image and the prompt get -100",
            _connector_variant((_LABEL, "        labels[b, N:L] = torch.cat([prompt_ids[b], caption_ids[b]])\n")),
        ),
        Mistake(
            "labels_shifted",
            "you shift the labels yourself (each caption id one position earlier); the language model "
            "shifts them (it scores position t against labels[:, t + 1]), so they would be shifted twice: "
            "put each caption id on its own position",
            _connector_variant((_LABEL, "        labels[b, L - len(caption_ids[b]) - 1:L - 1] = caption_ids[b]\n")),
        ),
        Mistake(
            "labels_at_start",
            "your caption ids sit at the start of the labels, on the image positions: each belongs on "
            "the caption token's own position, after the image and the prompt",
            _connector_variant((_LABEL, "        labels[b, :len(caption_ids[b])] = caption_ids[b]\n")),
        ),
        Mistake(
            "mask_off_on_image",
            "your attention mask is 0 on the image positions: the text must attend to the visual "
            "tokens (they are the only way the image reaches the model), so the mask is 1 on every real position",
            _connector_variant(("        attention_mask[b, :L] = 1\n", "        attention_mask[b, N:L] = 1\n")),
        ),
        Mistake(
            "mask_on_padding",
            "your attention mask is 1 on the padding too: it is 0 there, so that nothing attends to padding",
            _connector_variant(("attention_mask = torch.zeros(B, T,", "attention_mask = torch.ones(B, T,")),
        ),
        Mistake(
            "padding_labels",
            "your labels are 0 on the padding, a real token id that the loss would count: padding "
            "gets -100, as the image and the prompt",
            _connector_variant(
                ("labels = torch.full((B, T), -100, dtype=torch.long)", "labels = torch.zeros(B, T, dtype=torch.long)"),
                (
                    "        attention_mask[b, :L] = 1\n",
                    "        attention_mask[b, :L] = 1\n        labels[b, :L - len(caption_ids[b])] = -100\n",
                ),
            ),
        ),
        Mistake(
            "padding_token_zero",
            "your padding holds the embedding of token 0: the padding of inputs_embeds is zeros "
            "(as LLaVA pads its inputs)",
            _connector_variant(
                (
                    "inputs_embeds = visual.new_zeros(B, T, D)",
                    "inputs_embeds = embed(torch.zeros(B, T, dtype=torch.long))",
                )
            ),
        ),
        Mistake(
            "left_padding",
            "you pad on the left (as for generation); the rows here are right-padded: real positions "
            "first, padding at the end",
            _connector_variant(
                (_ROW, "        inputs_embeds[b, T - L:] = torch.cat([visual[b], text])\n"),
                ("        attention_mask[b, :L] = 1\n", "        attention_mask[b, T - L:] = 1\n"),
                (_LABEL, "        labels[b, T - len(caption_ids[b]):] = caption_ids[b]\n"),
            ),
        ),
        Mistake(
            "projector_detached",
            "your visual tokens are detached from the projector (.detach(), torch.no_grad() or "
            "torch.tensor(...)): no gradient would reach it, and the projector is what LLaVA trains",
            _connector_variant(
                ("visual = projector(image_features).to(", "visual = projector(image_features).detach().to(")
            ),
        ),
        Mistake(
            "embedding_no_grad",
            "you embed the text under torch.no_grad(): no gradient reaches the embedding, which "
            "LLaVA's second stage trains with the rest of the language model",
            _connector_variant(
                (
                    "        text = embed(torch.cat([prompt_ids[b], caption_ids[b]]))\n",
                    "        with torch.no_grad():\n"
                    "            text = embed(torch.cat([prompt_ids[b], caption_ids[b]]))\n",
                )
            ),
        ),
        Mistake(
            "wrong_cat_dim",
            "you concatenate along the feature dimension: the visual tokens and the text's embeddings "
            "are joined along the sequence (dim 0 of one item's (L, D) tensors)",
            _connector_variant((_ROW, "        inputs_embeds[b, :L] = torch.cat([visual[b], text], dim=1)\n")),
        ),
        Mistake(
            "first_item_features",
            "every row gets the visual tokens of item 0: row b takes projector(image_features)[b]",
            _connector_variant((_ROW, "        inputs_embeds[b, :L] = torch.cat([visual[0], text])\n")),
        ),
        Mistake(
            "projector_dtype",
            "your inputs_embeds has the projector's dtype: cast the visual tokens to the embedding's "
            "(embed.weight.dtype), the dtype the language model runs in, before joining them to the text",
            _connector_variant(
                ("visual = projector(image_features).to(embed.weight.dtype)", "visual = projector(image_features)")
            ),
        ),
    ),
)


EXERCISES: dict[str, Exercise] = {
    "patchify": PATCHIFY,
    "patch_embedding": PATCH_EMBEDDING,
    "clip_loss": CLIP_LOSS,
    "build_inputs": BUILD_INPUTS,
}


def check_patchify(fn, hidden: bool = False) -> None:
    """Exercise 1, against ``F.unfold``. Hidden: more sizes, channels and patch sizes."""
    check(PATCHIFY, fn, hidden)


def check_patch_embedding(cls, hidden: bool = False) -> None:
    """Exercise 2, against a strided ``nn.Conv2d`` with proj's weight reshaped; a correct
    ``patchify`` stands in for yours while it runs."""
    check(PATCH_EMBEDDING, cls, hidden)


def check_clip_loss(fn, hidden: bool = False) -> None:
    """Exercise 3, against Hugging Face's CLIP loss on the same similarity logits, and the
    gradients autograd computes for it."""
    check(CLIP_LOSS, fn, hidden)


def check_build_inputs(fn, hidden: bool = False) -> None:
    """Exercise 4, against what Hugging Face's LLaVA hands its language model (inputs_embeds and
    attention mask), its label convention, and the gradients through it. Hidden: more sizes,
    batches, projectors and dtypes."""
    check(BUILD_INPUTS, fn, hidden)
