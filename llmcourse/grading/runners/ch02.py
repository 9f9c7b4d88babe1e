"""Student-side runners of chapter 02 (transformer anatomy): see :mod:`llmcourse.grading.runners`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")  # the nn.Linear layers of MultiHeadAttention


def run_positional_encoding(fn: Callable[[int, int], Any], inputs: tuple[int, int]) -> Any:
    """``sinusoidal_positional_encoding(num_positions, d_model)``."""
    return fn(*inputs)


def run_attention(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``scaled_dot_product_attention(q, k, v, mask)`` on copies; ``mask`` may be None."""
    q, k, v, mask = inputs
    return fn(q.clone(), k.clone(), v.clone(), None if mask is None else mask.clone())


def run_multi_head_attention(cls: type, inputs: dict[str, Any]) -> Any:
    """``MultiHeadAttention(E, H, bias=bias)``: with ``layers_only``, the shape and bias of each of
    its PROJECTIONS (None for a missing one); else its ``(output, weights)`` on query and key
    (the key is the value too) with the case's weights loaded."""
    E, H, bias = inputs["E"], inputs["H"], inputs["bias"]
    module = cls(E, H, bias=bias)
    layers = {}
    for name in PROJECTIONS:
        layer = getattr(module, name, None)
        layers[name] = [list(layer.weight.shape), layer.bias is not None] if isinstance(layer, nn.Linear) else None
    if inputs["layers_only"]:
        return layers
    missing = [name for name, found in layers.items() if found is None]
    if missing:
        raise AttributeError(f"no nn.Linear layers named {', '.join(missing)}")
    with torch.no_grad():
        for name, (weight, b) in inputs["weights"].items():
            getattr(module, name).weight.copy_(weight)
            if b is not None:
                getattr(module, name).bias.copy_(b)
        mask = inputs["mask"]
        return module(
            inputs["query"].clone(),
            inputs["key"].clone(),
            inputs["key"].clone(),
            None if mask is None else mask.clone(),
        )


def run_train_bpe(fn: Callable[[str, int], Any], inputs: tuple[str, int]) -> Any:
    """``train_bpe(text, vocab_size)``: the merges, as returned."""
    # The answer may import its building blocks (bytes_to_unicode, pretokenize, initial_vocab)
    # from llmcourse.bpe: importing it here keeps that module readable in the grading sandbox,
    # where its ByteLevelBPE is caught by the tripwire instead.
    import llmcourse.bpe  # noqa: F401

    text, vocab_size = inputs
    return fn(text, vocab_size)


def run_encode(fn: Callable[[str, list], Any], inputs: tuple[str, list[tuple[str, str]]]) -> Any:
    """``encode(text, merges)``: the ids, as returned."""
    import llmcourse.bpe  # noqa: F401 - see run_train_bpe

    text, merges = inputs
    return fn(text, [tuple(pair) for pair in merges])


def run_decode(fn: Callable[[list, list], Any], inputs: tuple[list[int], list[tuple[str, str]]]) -> Any:
    """``decode(ids, merges)``: the text, as returned."""
    import llmcourse.bpe  # noqa: F401 - see run_train_bpe

    ids, merges = inputs
    return fn(list(ids), [tuple(pair) for pair in merges])


RUNNERS: dict[str, Callable] = {
    "train_bpe": run_train_bpe,
    "bpe_encode": run_encode,
    "bpe_decode": run_decode,
    "positional_encoding": run_positional_encoding,
    "attention": run_attention,
    "multi_head_attention": run_multi_head_attention,
}
