"""Exercise 4, ``reward_model_loss(chosen_rewards, rejected_rewards) -> loss``, against the
Bradley-Terry loss written out in float64 numpy (see ``common.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    SubCheck,
    check,
    items_of,
    to_plain,
)
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch07 import RUNNERS

from .common import DTYPES, PREFERENCE, expect_like, expect_scalar_with_gradient, neg_logsigmoid, sigmoid


def _reward_expected(chosen: np.ndarray, rejected: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Bradley-Terry loss of a reward model and its gradients with respect to both rewards."""
    margin = chosen.astype(np.float64) - rejected.astype(np.float64)
    B = margin.shape[0]
    grad = -sigmoid(-margin) / B  # d/dm of mean(-log sigmoid(m))
    return float(neg_logsigmoid(margin).mean()), grad, -grad


def _rm_case(sub: str, chosen: np.ndarray, rejected: np.ndarray, visible: bool) -> Case:
    loss, grad_c, grad_r = _reward_expected(chosen, rejected)
    expected = to_plain(
        (
            loss,
            torch.from_numpy(grad_c).to(DTYPES[chosen.dtype.name]),
            torch.from_numpy(grad_r).to(DTYPES[chosen.dtype.name]),
        )
    )
    small = chosen.size <= 6
    label = (
        f"chosen_rewards {np.round(chosen, 4).tolist() if small else chosen.shape}, rejected_rewards "
        f"{np.round(rejected, 4).tolist() if small else rejected.shape} {chosen.dtype.name}"
    )
    return Case(sub, (chosen, rejected), expected, label, visible)


def _random_rewards(seed: int, B: int, dtype: type = np.float32, scale: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=B) * scale).astype(dtype), (rng.normal(size=B) * scale).astype(dtype)


def _rm_cases(hidden: bool) -> list[Case]:
    big = (np.array([2.0, -600.0, 900.0, 0.5], np.float32), np.array([1.0, 600.0, -900.0, 3.0], np.float32))
    cases = [
        _rm_case("loss", *_random_rewards(0, 4), True),
        _rm_case("loss", *_random_rewards(1, 6), True),
        _rm_case("stable", *big, True),
        _rm_case("scalar", *_random_rewards(2, 5), True),
    ]
    if hidden:
        huge = (np.array([-1500.0, 3.0, 2000.0, -0.5, 10.0]), np.array([1500.0, 2.5, -2000.0, 0.5, -20.0]))
        cases += [
            _rm_case("loss", *_random_rewards(10, 32, np.float64), False),
            _rm_case("loss", *_random_rewards(11, 1), False),
            _rm_case("loss", *_random_rewards(12, 64, scale=1.0), False),
            _rm_case("stable", *huge, False),
            _rm_case("stable", huge[0].astype(np.float32), huge[1].astype(np.float32), False),
            _rm_case("scalar", *_random_rewards(13, 8, np.float64), False),
        ]
    return cases


def _rm_compare(case: Case, got: Any, expected: Any) -> None:
    loss, *grads = items_of(got, "the runner", 3)
    loss_e, *grads_e = items_of(expected, "the runner", 3)
    if case.subcheck == "scalar":
        expect_scalar_with_gradient("reward_model_loss", loss, loss_e, grads, grads_e, "the rewards", case.label)
    else:
        expect_like(loss, loss_e, "loss", case.label)


# The catalogue, in the order a match is named: each id is a file in mistakes/reward_model_loss/.
MISTAKES = (
    "log_of_sigmoid",
    "log_sigmoid_eps",
    "bce_on_probabilities",
    "sign_flipped",
    "missing_minus",
    "sum",
    "sigmoid_without_log",
    "mean_before_sigmoid",
    "hinge",
    "per_pair",
    "item",
    "detached",
)

REWARD_MODEL_LOSS = Exercise(
    name="reward_model_loss",
    cell="reward_model_loss",
    test_cell="reward_model_loss_tests",
    points=3,
    subchecks=(
        SubCheck(
            "loss",
            1.0,
            "returns the mean over the batch of -log sigmoid(chosen_rewards - rejected_rewards) "
            "(the Bradley-Terry loss)",
        ),
        SubCheck(
            "stable",
            1.0,
            "stays finite and exact for large margins (|margin| of hundreds): log-sigmoid, not log(sigmoid(...))",
        ),
        SubCheck("scalar", 1.0, "returns a 0-dim float tensor whose gradient reaches both rewards"),
    ),
    cases=_rm_cases,
    run=RUNNERS["reward_model_loss"],
    compare=_rm_compare,
    forbidden=Forbidden(
        python=(f"{PREFERENCE}:reward_model_loss", f"{PREFERENCE}:dpo_loss"),
        names=(PREFERENCE, "RewardTrainer", "trl"),
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_reward_model_loss(fn, hidden: bool = False) -> None:
    """Exercise 4, against the Bradley-Terry loss in float64. Hidden: more sizes, float64, larger margins."""
    check(REWARD_MODEL_LOSS, fn, hidden)
