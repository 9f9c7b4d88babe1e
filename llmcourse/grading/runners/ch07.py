"""Student-side runners of chapter 07 (pretraining and fine-tuning): see
:mod:`llmcourse.grading.runners`.

Case inputs hold numpy arrays, not tensors (see :mod:`llmcourse.grading.runners.ch03`); the
runners turn them back into tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

import numpy as np
import torch
from torch import nn

from llmcourse.grading.runners import loss_and_gradient


@overload
def _tensor(a: np.ndarray) -> torch.Tensor: ...


@overload
def _tensor(a: None) -> None: ...


def _tensor(a: np.ndarray | None) -> torch.Tensor | None:
    return None if a is None else torch.from_numpy(np.array(a))


def run_mask_prompt_tokens(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``mask_prompt_tokens(input_ids, prompt_lengths[, attention_mask])``; for the "copy" cases,
    ``(labels, input_ids)``, so that a change of the ids in place shows."""
    ids, lengths, mask = (_tensor(a) for a in inputs[:3])
    labels = fn(ids, lengths, mask) if mask is not None else fn(ids, lengths)
    if inputs[3] == "copy":
        return labels, ids
    return labels


def run_sft_loss(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``sft_loss(logits, labels)``; when the case asks for the gradient, ``(loss, d loss / d logits)``,
    the gradient None when no usable graph reaches the logits."""
    logits, labels = (_tensor(a) for a in inputs[:2])
    want_grad = inputs[2]
    logits = logits.requires_grad_(want_grad)
    loss = fn(logits, labels)
    if not want_grad:
        return loss
    return loss_and_gradient(loss, logits)


def _b_learns(layer: nn.Module, x: torch.Tensor) -> bool:
    """Whether one backward pass through the fresh layer gives B a non-zero gradient (it does not
    when A starts at zero: the update then never trains)."""
    B = getattr(layer, "B", None)
    if not isinstance(B, torch.Tensor) or not B.requires_grad:
        return False
    try:
        layer.eval()
        layer(x).sum().backward()
    except Exception:  # noqa: BLE001 - a forward that fails is the forward requirement's
        return False
    return B.grad is not None and bool((B.grad != 0).any())


def run_lora_linear(cls: type, inputs: dict[str, Any]) -> Any:
    """``LoRALinear(base, r, alpha[, dropout=])`` on an ``nn.Linear`` with the case's weights:
    for "params", how its A and B look, whether the base is frozen, whether A starts non-zero and a
    backward pass gives B a gradient; else, with A and B set, in eval mode (a "forward" case with a
    ``train_seed``: in train mode, right after ``torch.manual_seed(train_seed)``): ``layer(x)``
    ("forward") or ``[type of merge(), merge()(x), layer(x) after merge()]`` ("merge")."""
    base = nn.Linear(inputs["n_in"], inputs["n_out"], bias=inputs["b"] is not None)
    with torch.no_grad():
        base.weight.copy_(_tensor(inputs["W"]))
        if inputs["b"] is not None:
            base.bias.copy_(_tensor(inputs["b"]))
    extra = {} if inputs["dropout"] is None else {"dropout": inputs["dropout"]}
    layer = cls(base, inputs["r"], inputs["alpha"], **extra)
    if inputs["kind"] == "params":

        def described(name):
            p = getattr(layer, name, None)
            return (
                [list(p.shape), bool(p.requires_grad) and isinstance(p, nn.Parameter)]
                if isinstance(p, torch.Tensor)
                else None
            )

        B = getattr(layer, "B", None)
        frozen = not any(p.requires_grad for p in base.parameters())
        A = getattr(layer, "A", None)
        return {
            "A": described("A"),
            "B": described("B"),
            "B_zero": bool(isinstance(B, torch.Tensor) and bool((B == 0).all())),
            "base_frozen": frozen,
            "A_random": bool(isinstance(A, torch.Tensor) and bool((A != 0).any())),
            "B_learns": _b_learns(layer, _tensor(inputs["x"])),
        }
    with torch.no_grad():
        layer.A.copy_(_tensor(inputs["A"]))
        layer.B.copy_(_tensor(inputs["B"]))
    layer.eval()
    x = _tensor(inputs["x"])
    with torch.no_grad():
        if inputs["kind"] == "forward" and inputs.get("train_seed") is not None:
            layer.train()  # dropout runs: the seed makes its mask the one peft's layer draws on x
            torch.manual_seed(inputs["train_seed"])
            return layer(x)
        if inputs["kind"] == "forward":
            return layer(x)
        merged = layer.merge()
        kind = type(merged).__name__ if isinstance(merged, nn.Linear) else f"a {type(merged).__name__}"
        return [kind, merged(x), layer(x)]  # the LoRA layer itself must be unchanged by merge()


def _gradients(loss: Any, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor | None]:
    """``d loss / d input`` for each input; all None when the loss is not a 0-dim tensor whose graph
    reaches them (an answer that detached or returned a float)."""
    if not (isinstance(loss, torch.Tensor) and loss.dim() == 0 and loss.requires_grad):
        return [None] * len(inputs)
    return list(torch.autograd.grad(loss, inputs, allow_unused=True))


def run_reward_model_loss(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``reward_model_loss(chosen_rewards, rejected_rewards)`` on rewards that require gradients:
    ``(loss, d loss / d chosen_rewards, d loss / d rejected_rewards)``."""
    chosen, rejected = (_tensor(a).requires_grad_() for a in inputs)
    loss = fn(chosen, rejected)
    return (loss, *_gradients(loss, (chosen, rejected)))


def run_dpo_loss(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)``
    with the policy's log-probabilities requiring gradients and the reference's not, as in training:
    ``(what it returned, [whether each returned reward requires a gradient], d loss / d policy_chosen_logps,
    d loss / d policy_rejected_logps)``, the loss being the first item returned."""
    policy_chosen, policy_rejected, ref_chosen, ref_rejected = (_tensor(a) for a in inputs[:4])
    policy_chosen.requires_grad_()
    policy_rejected.requires_grad_()
    out = fn(policy_chosen, policy_rejected, ref_chosen, ref_rejected, inputs[4])
    triple = isinstance(out, (tuple, list)) and len(out) == 3
    attached = [bool(isinstance(r, torch.Tensor) and r.requires_grad) for r in out[1:]] if triple else None
    loss = out[0] if triple else out
    return (out, attached, *_gradients(loss, (policy_chosen, policy_rejected)))


RUNNERS: dict[str, Callable] = {
    "mask_prompt_tokens": run_mask_prompt_tokens,
    "sft_loss": run_sft_loss,
    "lora_linear": run_lora_linear,
    "reward_model_loss": run_reward_model_loss,
    "dpo_loss": run_dpo_loss,
}
