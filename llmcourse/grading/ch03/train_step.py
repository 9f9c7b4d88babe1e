"""Exercise 5, ``train_step(model, batch, optimizer, max_grad_norm) -> float``, against the steps
``transformers.Trainer`` takes, written out on Hugging Face's ``GPT2LMHeadModel`` (float64) with
the same weights."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers.models.gpt2.modeling_gpt2 import GPT2LMHeadModel

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
from llmcourse.grading.kit import cases_once, catalogue, seeded
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch03 import LINEARS, RUNNERS

from .common import as_array, gpt_config, hf_gpt

_STEP_SHAPE = (29, 16, 2, 2, 8)  # (V, P, L, H, C) of the GPT the step trains


def _optimizer(kind: str, settings: dict[str, Any], params) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, **settings) if kind == "adamw" else torch.optim.SGD(params, **settings)


def _step_expected(model: GPT2LMHeadModel, optimizer: tuple, max_grad_norm: float, batches: list) -> tuple:
    """What ``transformers.Trainer`` does per step, written out on Hugging Face's model (float64):
    train mode, forward, loss, backward, clip_grad_norm_ over every parameter, step, zero_grad.
    Returns the losses, the parameters after the last step (nn.Linear's orientation) and the
    gradients' global norm at the first step."""
    kind, settings = optimizer
    opt = _optimizer(kind, settings, model.parameters())
    losses, norms = [], []
    for x, y in batches:
        model.train()
        logits = model(x).logits  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)))
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    parameters = {}
    for name, p in model.named_parameters():
        path = name.removesuffix(".weight")
        conv1d = name.endswith("weight") and path.split(".", 3)[-1] in LINEARS
        parameters[name] = (p.t() if conv1d else p).detach().clone()
    return losses, parameters, norms[0]


def _step_case(
    sub: str,
    optimizer: tuple,
    max_grad_norm: float,
    steps: int,
    B: int,
    T: int,
    seed: int,
    visible: bool,
    start_in_train_mode: bool = False,
) -> Case:
    model, weights = hf_gpt(*_STEP_SHAPE, seed)
    g = seeded(3000 + seed)
    batches = []
    for _ in range(steps):
        window = torch.randint(_STEP_SHAPE[0], (B, T + 1), generator=g)
        batches.append((window[:, :T], window[:, 1:]))
    losses, parameters, norm = _step_expected(model, optimizer, max_grad_norm, batches)
    kind, settings = optimizer
    inputs = {
        "start_in_train_mode": start_in_train_mode,
        "config": gpt_config(*_STEP_SHAPE),
        "weights": {k: as_array(w.double()) for k, w in weights.items()},
        "optimizer": optimizer,
        "max_grad_norm": max_grad_norm,
        "batches": [(as_array(x), as_array(y)) for x, y in batches],
    }
    described = ", ".join(f"{k}={v}" for k, v in settings.items())
    label = (
        f"{steps} step{'s' if steps > 1 else ''} of {'AdamW' if kind == 'adamw' else 'SGD'}({described}) on "
        f"batches x, y ({B}, {T}), max_grad_norm={max_grad_norm:g} (the gradients' global norm at the first step "
        f"is {norm:.3g}: clipping {'active' if norm > max_grad_norm else 'inactive'})"
    )
    label += f", the model in {'training' if start_in_train_mode else 'eval'} mode before the first step"
    if (sub == "clip") != (norm > max_grad_norm):
        raise ValueError(f"{label}: only the clip cases clip, and each of them does")
    expected = (losses, parameters, [True] * steps)  # what the runner returns: the step, the model, its modes
    return Case(sub, inputs, to_plain(expected), label, visible)


_SGD = ("sgd", {"lr": 0.1, "momentum": 0.9})
_ADAMW = ("adamw", {"lr": 0.01, "weight_decay": 0.1})
_NO_CLIP = 1e6


@cases_once
@one_thread()
def _step_cases(hidden: bool) -> list[Case]:
    cases = [
        _step_case("loss", _SGD, _NO_CLIP, 1, 2, 8, 0, True),
        _step_case("update", _SGD, _NO_CLIP, 1, 2, 8, 1, True),
        _step_case("update", _ADAMW, _NO_CLIP, 1, 3, 6, 2, True),
        _step_case("clip", _SGD, 0.5, 1, 2, 8, 3, True),
        _step_case("clip", ("sgd", {"lr": 0.05}), 2.0, 1, 3, 6, 4, True),
        _step_case("zero_grad", _ADAMW, _NO_CLIP, 3, 2, 8, 5, True),
        _step_case("zero_grad", _SGD, _NO_CLIP, 3, 2, 6, 6, True),
        _step_case("train_mode", _SGD, _NO_CLIP, 1, 2, 8, 7, True),
        _step_case("train_mode", _SGD, _NO_CLIP, 1, 2, 8, 8, True, start_in_train_mode=True),
    ]
    if hidden:
        cases += [
            _step_case("loss", _ADAMW, _NO_CLIP, 1, 4, 12, 10, False),
            _step_case("update", ("sgd", {"lr": 0.3}), _NO_CLIP, 1, 1, 15, 11, False),
            _step_case(
                "update",
                ("adamw", {"lr": 0.003, "betas": (0.8, 0.9), "weight_decay": 0.0}),
                _NO_CLIP,
                1,
                4,
                5,
                12,
                False,
            ),
            _step_case("clip", _SGD, 0.25, 1, 4, 10, 13, False),
            _step_case("clip", ("sgd", {"lr": 0.1, "momentum": 0.5}), 1.5, 1, 1, 15, 14, False),
            _step_case("zero_grad", ("sgd", {"lr": 0.05}), _NO_CLIP, 3, 3, 7, 15, False),
            _step_case("zero_grad", _ADAMW, _NO_CLIP, 3, 1, 12, 16, False),
            _step_case("train_mode", _ADAMW, _NO_CLIP, 3, 2, 5, 17, False),
        ]
    return cases


def _step_compare(case: Case, got: Any, expected: Any) -> None:
    what = f"train_step for {case.label}"
    returned, parameters, modes = items_of(got, what, 3)
    want_returned, want_parameters, want_modes = items_of(expected, what, 3)
    if case.subcheck == "loss":
        value, want = returned["list"][0], want_returned["list"][0]
        want_value = float_of(want)
        if kind_of(value) != kind_of(want) or want_value is None:
            raise GradingError(f"{what}: expected the loss as a {kind_of(want)} (loss.item()), got {kind_of(value)}")
        expect_float(
            value,
            want_value,
            what="the returned loss (before the update)",
            context=case.label,
            atol=1e-6,
            rtol=1e-6,
        )
        return
    if case.subcheck == "train_mode":
        if not modes["list"]:
            raise GradingError(f"{what}: the model was never called")
        if not all(modes["list"]) if all(want_modes["list"]) else modes != want_modes:
            raise GradingError(
                f"{what}: the forward pass ran in eval mode; call model.train() first (the model may come in "
                "eval mode, e.g. after an evaluation; dropout is on only in training mode)"
            )
        return
    have = parameters.get("dict", {}) if isinstance(parameters, dict) else {}
    for name, value in want_parameters["dict"].items():
        expect_tensor(
            have.get(name),
            value,
            what=f"the parameter {name} after the step(s)",
            context=case.label,
            atol=1e-6,
            rtol=1e-6,
        )


# The reference answer: the tests' known good train_step (each mistake in mistakes/train_step/ is a
# variant of it).
SOLUTION = """import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
"""

# The catalogue, in the order a match is named: each id is a file in mistakes/train_step/.
MISTAKES = (
    "no_zero_grad",
    "zero_grad_before_step",
    "clip_by_value",
    "clip_per_parameter",
    "no_clip",
    "fixed_max_norm",
    "loss_divided",
    "batch_swapped",
    "step_twice",
    "returns_tensor",
    "loss_after_update",
    "eval_mode",
    "no_train_mode",
)

TRAIN_STEP = Exercise(
    name="train_step",
    cell="train_step",
    test_cell="train_step_tests",
    points=4,
    subchecks=(
        SubCheck("loss", 0.5, "returns the batch's loss before the update, as a Python float"),
        SubCheck(
            "update",
            1.0,
            "one step: forward, backward, optimizer.step() once; the parameters then equal those of the "
            "same step done as transformers.Trainer does it",
        ),
        SubCheck(
            "clip",
            1.0,
            "the gradients are clipped to a global norm of max_grad_norm over all parameters "
            "(torch.nn.utils.clip_grad_norm_), after backward and before the step",
        ),
        SubCheck(
            "zero_grad",
            1.0,
            "no gradient is carried from one step to the next: three steps equal three Trainer steps",
        ),
        SubCheck(
            "train_mode", 0.5, "the forward pass runs in training mode (model.train()), whatever mode the model was in"
        ),
    ),
    cases=_step_cases,
    run=RUNNERS["train_step"],
    compare=_step_compare,
    forbidden=Forbidden(
        python=("llmcourse.train:train_step",),
        names=("llmcourse.train", "Trainer", "training_step"),
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_train_step(fn, hidden: bool = False) -> None:
    """Exercise 5, against the steps transformers.Trainer takes, written out on GPT2LMHeadModel with
    the same weights. Hidden: more optimizers, clipping thresholds and batches."""
    check(TRAIN_STEP, fn, hidden)
