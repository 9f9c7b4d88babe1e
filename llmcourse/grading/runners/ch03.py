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

from llmcourse.grading.runners import loss_and_gradient, one_thread

# Where each parameter of a Block sits, with nn.Linear's shape (out, in) for n_embd = C.
LINEARS = {"attn.c_attn": (3, 1), "attn.c_proj": (1, 1), "mlp.c_fc": (4, 1), "mlp.c_proj": (1, 4)}
NORMS = ("ln_1", "ln_2")
# The GPT's own modules besides its blocks (transformer.h.0, transformer.h.1, ...), as in GPT2LMHeadModel.
GPT_MODULES = ("transformer.wte", "transformer.wpe", "transformer.ln_f")


def _tensor(a: np.ndarray | None) -> torch.Tensor | None:
    return None if a is None else _fresh(a)


def _fresh(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a))  # a fresh, writable copy


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
    logits, ids, mask = _fresh(inputs[0]), _fresh(inputs[1]), _tensor(inputs[2])  # (B, T, V), (B, T), (B, T) or None
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
    found: dict[str, list[object] | None] = {}
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


def _load(model: nn.Module, weights: dict[str, np.ndarray]) -> None:
    """Copy each ``"path.weight"`` / ``"path.bias"`` (nn.Linear's orientation) into ``model``."""
    with torch.no_grad():
        for name, value in weights.items():
            path, _, kind = name.rpartition(".")
            target = getattr(_module_at(model, path), kind, None)
            if not isinstance(target, torch.Tensor):
                raise AttributeError(f"your model has no parameter {name}")
            target.copy_(_fresh(value))


def _gpt_modules(model: nn.Module, n_layer: int) -> dict[str, Any]:
    """The type and weight shape of the embeddings and the final norm, and which blocks exist."""
    found: dict[str, Any] = {}
    for path in GPT_MODULES:
        layer = _module_at(model, path)
        weight = getattr(layer, "weight", None)
        shape = list(weight.shape) if isinstance(weight, torch.Tensor) else None
        found[path] = None if layer is None else [type(layer).__name__, shape]
    blocks = [isinstance(_module_at(model, f"transformer.h.{i}"), nn.Module) for i in range(n_layer + 1)]
    found["blocks"] = sum(blocks[:n_layer]) if not blocks[n_layer] else n_layer + 1
    return found


def run_gpt(cls: type, inputs: dict[str, Any]) -> Any:
    """``GPT(GPTConfig(**config))``, a correct Block standing in for the student's: its modules
    ("modules"), how many distinct (V, C) parameters it holds and whether the token embedding is one
    ("tied"); else, with the case's weights loaded (none for a head: it is the embedding), in eval
    mode, ``model(idx)`` ("logits") or ``model(idx, targets)`` ("loss", "ignore")."""
    with one_thread():  # tiny models: more threads only wait for each other
        return _run_gpt(cls, inputs)


def _run_gpt(cls: type, inputs: dict[str, Any]) -> Any:
    from llmcourse.gpt import GPTConfig  # the course's config, loaded only when a GPT is graded

    config = GPTConfig(**inputs["config"])
    torch.manual_seed(0)
    model = cls(config)
    if inputs["kind"] == "modules":
        return _gpt_modules(model, config.n_layer)
    if inputs["kind"] == "tied":
        shape = (config.vocab_size, config.n_embd)
        matrices = [p for p in model.parameters() if tuple(p.shape) == shape]
        wte = getattr(_module_at(model, "transformer.wte"), "weight", None)
        return [len(matrices), any(p is wte for p in matrices)]
    _load(model, inputs["weights"])
    model.eval()
    idx, targets = _tensor(inputs["idx"]), _tensor(inputs["targets"])  # (B, T) long, (B, T) long or None
    with torch.no_grad():
        return model(idx) if targets is None else model(idx, targets)


class _ModeLog:
    """Records, at each forward call of a model, whether it ran in training mode."""

    def __init__(self, model: nn.Module) -> None:
        self.modes: list[bool] = []
        model.register_forward_pre_hook(lambda module, args: self.modes.append(module.training))


def run_train_step(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """The course's GPT in float64 with the case's weights, in the case's mode, and the case's
    optimizer: ``train_step(model, (x, y), optimizer, max_grad_norm)`` once per batch. Returns
    what each call returned, the parameters after the last one (by name, nn.Linear's orientation)
    and whether each forward pass ran in training mode."""
    from llmcourse.gpt import GPT, GPTConfig  # the model the step trains (not what is graded)

    with one_thread():  # a tiny model: more threads only wait for each other
        torch.manual_seed(0)
        model = GPT(GPTConfig(**inputs["config"])).double()
        _load(model, inputs["weights"])
        model.train(inputs["start_in_train_mode"])  # eval mode, as after an evaluation, unless the case says
        log = _ModeLog(model)
        kind, settings = inputs["optimizer"]
        if kind == "adamw":
            optimizer: torch.optim.Optimizer = torch.optim.AdamW(model.parameters(), **settings)
        else:
            optimizer = torch.optim.SGD(model.parameters(), **settings)
        returned = [
            fn(model, (_tensor(x), _tensor(y)), optimizer, inputs["max_grad_norm"]) for x, y in inputs["batches"]
        ]
        returned = [r.detach().clone() if isinstance(r, torch.Tensor) and r.requires_grad else r for r in returned]
        parameters = {name: p.detach().clone() for name, p in model.named_parameters()}
        return returned, parameters, log.modes


RUNNERS: dict[str, Callable] = {
    "causal_mask": run_causal_mask,
    "causal_lm_loss": run_causal_lm_loss,
    "block": run_block,
    "gpt": run_gpt,
    "train_step": run_train_step,
}
