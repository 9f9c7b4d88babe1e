"""Student-side runners of chapter 08 (multimodal models): see :mod:`llmcourse.grading.runners`.

Case inputs hold numpy arrays, not tensors (see :mod:`llmcourse.grading.runners.ch03`); the
runners turn them back into tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from llmcourse.grading.contract import kind_of, to_plain


def run_patchify(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``patchify(images, p)`` on images (B, C, H, W). When p does not divide H and W the answer
    must raise ValueError: then a string saying what it did ("ValueError" when it did)."""
    images, p = inputs
    images = torch.from_numpy(np.array(images))
    if not images.shape[-1] % p and not images.shape[-2] % p:
        return fn(images, p)
    try:
        result = fn(images, p)
    except ValueError:
        return "ValueError"
    except Exception as exc:  # noqa: BLE001 - another exception is the student's result
        return f"{type(exc).__name__} (not ValueError)"
    return f"no error (returned {kind_of(to_plain(result))})"


def run_patch_embedding(cls: type, inputs: dict[str, Any]) -> Any:
    """``PatchEmbedding(C, p, E)``: with ``layer_only``, the shape and bias of its ``proj``
    (None when it is not an nn.Linear); else its output (B, N, E) on the images with the case's
    weight and bias in ``proj``."""
    module = cls(inputs["C"], inputs["p"], inputs["E"])
    proj = getattr(module, "proj", None)
    if inputs["layer_only"]:
        return [list(proj.weight.shape), proj.bias is not None] if isinstance(proj, nn.Linear) else None
    if not isinstance(proj, nn.Linear):
        raise AttributeError("PatchEmbedding has no nn.Linear named proj")
    weight = torch.from_numpy(np.array(inputs["weight"]))
    with torch.no_grad():
        if proj.weight.shape != weight.shape:
            raise ValueError(f"proj.weight has shape {tuple(proj.weight.shape)}, expected {tuple(weight.shape)}")
        proj.weight.copy_(weight)
        if proj.bias is not None:
            proj.bias.copy_(torch.from_numpy(np.array(inputs["bias"])))
        return module(torch.from_numpy(np.array(inputs["images"])))


def run_clip_loss(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``clip_loss(image_embeds, text_embeds, temperature)`` on embeddings (N, D); when the case
    asks for gradients, ``(loss, d loss / d image_embeds, d loss / d text_embeds)``, the gradients
    None when the loss has no graph."""
    image, text, temperature, grad = inputs
    image, text = torch.from_numpy(np.array(image)), torch.from_numpy(np.array(text))
    if not grad:
        with torch.no_grad():
            return fn(image, text, temperature)
    image.requires_grad_(True)
    text.requires_grad_(True)
    loss = fn(image, text, temperature)
    if not isinstance(loss, torch.Tensor) or loss.grad_fn is None:
        return (loss, None, None)
    loss.backward()
    return (loss, image.grad, text.grad)


def connector_parts(inputs: dict[str, Any]) -> tuple[torch.Tensor, nn.Module, list, list, nn.Embedding]:
    """The case's ``(image_features, projector, prompt_ids, caption_ids, embed)``: the projector an
    ``nn.Linear`` or LLaVA-1.5's MLP (Linear, GELU, Linear) in the features' dtype, the embedding
    in ``inputs["dtype"]``, each with the case's weights."""
    features = torch.from_numpy(np.array(inputs["features"]))
    weights = [torch.from_numpy(np.array(w)) for w in inputs["weights"]]
    D_img, D = features.shape[-1], weights[0].shape[0]
    if inputs["projector"] == "linear":
        projector: nn.Module = nn.Linear(D_img, D, dtype=features.dtype)
    else:
        dtype = features.dtype
        projector = nn.Sequential(nn.Linear(D_img, D, dtype=dtype), nn.GELU(), nn.Linear(D, D, dtype=dtype))
    table = torch.from_numpy(np.array(inputs["embedding"]))
    embed = nn.Embedding(table.shape[0], table.shape[1], dtype=getattr(torch, inputs["dtype"]))
    with torch.no_grad():
        for param, weight in zip(projector.parameters(), weights, strict=True):
            param.copy_(weight)
        embed.weight.copy_(table)
    prompts = [torch.from_numpy(np.array(ids, dtype=np.int64)) for ids in inputs["prompts"]]
    captions = [torch.from_numpy(np.array(ids, dtype=np.int64)) for ids in inputs["captions"]]
    return features, projector, prompts, captions, embed


def run_build_inputs(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """``build_inputs(image_features, projector, prompt_ids, caption_ids, embed)``; when the case
    asks for gradients, ``(result, grads)``: the gradients of ``0.5 * (inputs_embeds ** 2).sum()``
    with respect to the projector's parameters and the embedding's weight (each None where none
    reaches it), or None when the result holds no inputs_embeds with a graph."""
    features, projector, prompts, captions, embed = connector_parts(inputs)
    result = fn(features, projector, prompts, captions, embed)
    if not inputs["grad"]:
        return result
    embeds = result[0] if isinstance(result, (tuple, list)) and len(result) == 3 else None
    if not (isinstance(embeds, torch.Tensor) and embeds.requires_grad):
        return (result, None)
    params = [*projector.parameters(), embed.weight]
    loss = 0.5 * (embeds.double() ** 2).sum()
    return (result, torch.autograd.grad(loss, params, allow_unused=True))


RUNNERS: dict[str, Callable] = {
    "patchify": run_patchify,
    "patch_embedding": run_patch_embedding,
    "clip_loss": run_clip_loss,
    "build_inputs": run_build_inputs,
}
