"""Exercise 4, the connector, ``build_inputs(image_features, projector, prompt_ids, caption_ids,
embed) -> (inputs_embeds, attention_mask, labels)``, against what Hugging Face's
``LlavaForConditionalGeneration`` (a tiny one, random weights, no download) hands its language
model, in float64: the case's features put by its ``get_placeholder_mask`` / ``masked_scatter`` at
the image tokens' positions, its projector and its embedding table the case's; the labels by
LLaVA's convention (the ids where the loss counts, -100 elsewhere, unshifted); and the parameters
autograd reaches through that forward (the projector's and the embedding's: the gradient
requirement asks that they are reached)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import transformers.models.llava.modeling_llava  # noqa: F401 - loaded before a student's process starts (see ch07)
from torch import nn
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutputWithPooling

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    array_of,
    check,
    expect_tensor,
    items_of,
    kind_of,
    to_plain,
)
from llmcourse.grading.kit import catalogue, seeded
from llmcourse.grading.runners.ch08 import RUNNERS, connector_parts
from llmcourse.grading.wire import tensor_meta

from .common import REFERENCE


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
    meta = tensor_meta(plain)
    return meta.dtype if meta is not None else None


def _padding_compare(case: Case, got: list, expected: list) -> None:
    """Every row's positions after its own length (N + its prompt + its caption) are padding."""
    N = np.array(case.inputs["features"]).shape[1]
    lengths = [N + len(p) + len(c) for p, c in zip(case.inputs["prompts"], case.inputs["captions"])]
    for what, pad, g, e in zip(_PARTS, _PADDING, got, expected, strict=True):
        if tensor_meta(g) is None:
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


# The catalogue, in the order a match is named: each id is a file in mistakes/build_inputs/.
MISTAKES = (
    "not_projected",
    "image_after_prompt",
    "labels_on_prompt",
    "labels_shifted",
    "labels_at_start",
    "mask_off_on_image",
    "mask_on_padding",
    "padding_labels",
    "padding_token_zero",
    "left_padding",
    "projector_detached",
    "embedding_no_grad",
    "wrong_cat_dim",
    "first_item_features",
    "projector_dtype",
)

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
    mistakes=catalogue(__file__, MISTAKES),
)


def check_build_inputs(fn, hidden: bool = False) -> None:
    """Exercise 4, against what Hugging Face's LLaVA hands its language model (inputs_embeds and
    attention mask), its label convention, and the gradients through it. Hidden: more sizes,
    batches, projectors and dtypes."""
    check(BUILD_INPUTS, fn, hidden)
