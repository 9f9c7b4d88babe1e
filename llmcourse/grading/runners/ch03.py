"""Student-side runners of chapter 03 (GPT deep dive): see :mod:`llmcourse.grading.runners`.

Case inputs hold numpy arrays, not tensors (torch pickles every tensor through a file descriptor
of its own on its way into the student's process); the runners turn them back into tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from llmcourse.grading.runners import loss_and_gradient

# Where each parameter of a Block sits, with nn.Linear's shape (out, in) for n_embd = C.
LINEARS = {"attn.c_attn": (3, 1), "attn.c_proj": (1, 1), "mlp.c_fc": (4, 1), "mlp.c_proj": (1, 4)}
NORMS = ("ln_1", "ln_2")


def _tensor(a: np.ndarray | None) -> torch.Tensor | None:
    return None if a is None else torch.from_numpy(np.array(a))  # a fresh, writable copy


def _module_at(module: Any, path: str) -> Any:
    """The submodule at a dotted ``path`` ("attn.c_attn"), or None."""
    for part in path.split("."):
        module = getattr(module, part, None)
    return module


def run_causal_mask(fn: Callable[[int], Any], T: int) -> Any:
    """``causal_mask(T)``."""
    return fn(T)


def run_causal_lm_loss(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``causal_lm_loss(logits, input_ids, attention_mask)``; when the case asks for the gradient,
    ``(loss, d loss / d logits)``, the gradient None when no usable graph reaches the logits."""
    logits, ids, mask = (_tensor(a) for a in inputs[:3])  # (B, T, V), (B, T), (B, T) or None
    want_grad = inputs[3]
    logits = logits.requires_grad_(want_grad)
    loss = fn(logits, ids, mask)
    if not want_grad:
        return loss
    return loss_and_gradient(loss, logits)


def run_block(cls: type, inputs: dict[str, Any]) -> Any:
    """``Block(GPTConfig(**config))``: for "modules", the type, weight shape and bias of each of its
    NORMS and LINEARS; else, with the case's weights loaded, in eval mode: ``block.mlp(x)``
    ("gelu"), ``block(x)`` ("forward") or ``block(x, mask)`` ("padding")."""
    from llmcourse.gpt import GPTConfig  # the course's config; llmcourse.gpt is loaded only when a Block is graded

    block = cls(GPTConfig(**inputs["config"]))
    found = {}
    for path in (*NORMS, *LINEARS):
        layer = _module_at(block, path)
        if isinstance(layer, (nn.Linear, nn.LayerNorm)):
            found[path] = [type(layer).__name__, list(layer.weight.shape), layer.bias is not None]
        else:
            found[path] = None if layer is None else [type(layer).__name__, None, None]
    if inputs["kind"] == "modules":
        return found
    wrong = [path for path, layer in found.items() if layer is None or layer[1] is None]
    if wrong:
        raise AttributeError(f"no nn.Linear / nn.LayerNorm at {', '.join(wrong)}")
    with torch.no_grad():
        for name, value in inputs["weights"].items():
            path, _, kind = name.rpartition(".")
            getattr(_module_at(block, path), kind).copy_(_tensor(value))
    block.eval()
    x, mask = _tensor(inputs["x"]), _tensor(inputs["mask"])  # (B, T, C), (B, T) with 1 = token, or None
    with torch.no_grad():
        if inputs["kind"] == "gelu":
            return block.mlp(x)
        if inputs["kind"] == "forward":
            return block(x)
        return block(x, mask)


RUNNERS: dict[str, Callable] = {
    "causal_mask": run_causal_mask,
    "causal_lm_loss": run_causal_lm_loss,
    "block": run_block,
}
