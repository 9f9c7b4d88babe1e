"""What chapter 07's exercises share: the names of the course's own modules they forbid, numpy
copies of tensors for the cases, and the float64 oracle and comparisons of the two preference
losses (exercises 4 and 5)."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from llmcourse.grading.contract import GradingError, array_of, expect_float, expect_tensor, float_of, kind_of, values_of
from llmcourse.grading.wire import tensor_meta

FINETUNE = "llmcourse.finetune"
PREFERENCE = "llmcourse.preference"


def numpy_of(t: torch.Tensor | None) -> np.ndarray | None:
    """A numpy copy of ``t`` for a case's inputs. Case inputs hold numpy arrays, not tensors (see
    ch03: torch pickles each tensor through a file descriptor); the runners
    (llmcourse.grading.runners.ch07) turn them back into tensors."""
    return None if t is None else t.detach().cpu().numpy().copy()


# ---------------------------------------------------------------- exercises 4 and 5: preferences
#
# The oracle of both losses is written out in float64 numpy (reward_model_loss.py, dpo_loss.py, with
# the two functions below), independently of torch and of llmcourse.preference:
# -log sigmoid(x) = log(1 + exp(-x)) = np.logaddexp(0, -x), which stays exact for any x, and its
# derivative -sigmoid(-x). DPO's is TRL's DPOTrainer with loss_type="sigmoid"
# (trl/trainer/dpo_trainer.py, _compute_loss): chosen_logratios = chosen_logps - ref_chosen_logps,
# rejected_logratios likewise, loss = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios)).mean(),
# chosen_rewards = beta * chosen_logratios.detach(); tests/test_grading_ch07.py checks this oracle
# against that formula. TRL itself is not a dependency: its DPO loss is inlined in the trainer's
# forward pass (no function of tensors to call) and it would pull in datasets, pandas and pyarrow.


def neg_logsigmoid(x: np.ndarray) -> np.ndarray:
    """-log sigmoid(x), exactly, in float64."""
    return np.logaddexp(0.0, -np.asarray(x, dtype=np.float64))


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


DTYPES = {"float32": torch.float32, "float64": torch.float64}  # a case's numpy dtype -> the expected tensors'


def expect_like(got: Any, expected: Any, what: str, label: str) -> None:
    """``got`` equals ``expected`` (plain): a number, a tensor, or (a catalogued mistake's result)
    anything else of the same kind."""
    e = float_of(expected)
    if e is not None:
        value = float_of(got)
        if value is not None and np.isfinite(e) and not np.isfinite(value):
            raise GradingError(
                f"{what} for {label}: expected {e:.6g}, got {value}: not finite. log(sigmoid(x)) underflows "
                "to log(0) when x is very negative; -log sigmoid(x) = softplus(-x) is finite (F.logsigmoid)"
            )
        if not np.isfinite(e) and not (value == e or (value is not None and np.isnan(value) and np.isnan(e))):
            raise GradingError(f"{what} for {label}: expected {e}, got {kind_of(got) if value is None else value}")
        expect_float(got, e, what=what, context=label, atol=1e-5, rtol=1e-5)
    elif array_of(expected) is not None:
        expect_tensor(got, expected, what=what, context=label, atol=1e-5, rtol=1e-5)
    elif kind_of(got) != kind_of(expected):
        raise GradingError(f"{what} for {label}: expected {kind_of(expected)}, got {kind_of(got)}")


def expect_scalar_with_gradient(
    name: str, loss: Any, loss_e: Any, grads: list, grads_e: list, of: str, label: str
) -> None:
    """The scalar requirement: a 0-dim float tensor whose gradient reaches ``of``. Against a
    catalogued mistake's result (no gradient): the same kind of loss, with no gradient either."""
    if any(g is None for g in grads_e):
        if kind_of(loss) != kind_of(loss_e) or any(g is not None for g in grads):
            raise GradingError("different kinds of result")
        expect_like(loss, loss_e, "loss", label)
        return
    meta = tensor_meta(loss)
    if meta is None or not meta.has_shape(()):
        raise GradingError(
            f"{name} must return a 0-dim torch.Tensor (so that loss.backward() trains the model), "
            f"got {kind_of(loss)} for {label}"
        )
    if not meta.dtype.startswith(("float", "bfloat")):
        raise GradingError(f"{name} must return a float tensor, got torch.{meta.dtype} for {label}")
    if any(g is None for g in grads):
        raise GradingError(
            f"no gradient reaches {of} through your loss for {label} (.item(), .detach(), "
            "torch.tensor(...) or .data cut the graph)"
        )
    arrays = [array_of(g) for g in grads]
    if any(
        a is None or a.shape != values_of(e).shape or not np.isfinite(a).all() for a, e in zip(arrays, grads_e)
    ) or not all(a.any() for a in cast(list[np.ndarray], arrays)):  # no None: the any() before
        raise GradingError(
            f"the gradient of your loss with respect to {of} is zero or not finite for {label}: "
            "the loss must be computed from them"
        )
