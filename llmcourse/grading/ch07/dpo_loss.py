"""Exercise 5, ``dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
ref_rejected_logps, beta) -> (loss, chosen_rewards, rejected_rewards)``, against DPO's sigmoid loss
written out in float64 numpy as TRL's ``DPOTrainer`` computes it with ``loss_type="sigmoid"`` (see
``common.py``)."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    check,
    items_of,
    kind_of,
    to_plain,
)
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch07 import RUNNERS

from .common import DTYPES, PREFERENCE, expect_like, expect_scalar_with_gradient, neg_logsigmoid, sigmoid


def _dpo_expected(pc: np.ndarray, pr: np.ndarray, rc: np.ndarray, rr: np.ndarray, beta: float):
    """DPO's sigmoid loss, the implicit rewards and the loss's gradients with respect to the policy's log-probs."""
    pc, pr, rc, rr = (a.astype(np.float64) for a in (pc, pr, rc, rr))
    chosen_logratios, rejected_logratios = pc - rc, pr - rr
    logits = beta * (chosen_logratios - rejected_logratios)
    grad = -beta * sigmoid(-logits) / logits.shape[0]
    return float(neg_logsigmoid(logits).mean()), beta * chosen_logratios, beta * rejected_logratios, grad, -grad


def _dpo_logps(seed: int, B: int, dtype: type = np.float32) -> tuple[np.ndarray, ...]:
    """Summed log-probabilities as a policy and its reference give them to responses of 5 to 60 tokens."""
    rng = np.random.default_rng(seed)
    rc, rr = -rng.uniform(5, 60, B), -rng.uniform(5, 60, B)
    pc, pr = rc + rng.normal(size=B) * 3, rr + rng.normal(size=B) * 3
    return tuple(a.astype(dtype) for a in (pc, pr, rc, rr))


def _dpo_case(sub: str, logps: tuple[np.ndarray, ...], beta: float, visible: bool) -> Case:
    loss, cr, rr, gc, gr = _dpo_expected(*cast(tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], logps), beta)
    dtype = DTYPES[logps[0].dtype.name]
    t = lambda a: torch.from_numpy(a).to(dtype)  # noqa: E731
    expected = to_plain(((loss, t(cr), t(rr)), [False, False], t(gc), t(gr)))
    small = logps[0].size <= 4
    names = ("policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps", "ref_rejected_logps")
    label = ", ".join(f"{n} {np.round(a, 3).tolist() if small else a.shape}" for n, a in zip(names, logps))
    label += f" {logps[0].dtype.name}, beta={beta}"
    return Case(sub, (*logps, beta), expected, label, visible)


def _dpo_cases(hidden: bool) -> list[Case]:
    big = tuple(
        np.array(a, np.float32)
        for a in ([-30.0, -2500.0, -40.0], [-50.0, -10.0, -60.0], [-32.0, -20.0, -41.0], [-45.0, -15.0, -58.0])
    )
    cases = [
        _dpo_case("loss", _dpo_logps(0, 4), 0.1, True),
        _dpo_case("loss", _dpo_logps(1, 5), 0.5, True),
        _dpo_case("stable", big, 0.5, True),
        _dpo_case("rewards", _dpo_logps(2, 4), 0.1, True),
        _dpo_case("rewards", _dpo_logps(3, 3), 0.25, True),
        _dpo_case("scalar", _dpo_logps(4, 3), 0.1, True),
    ]
    if hidden:
        huge = tuple(
            np.array(a)
            for a in (
                [-3000.0, -12.0, -25.0, -4000.0],
                [-40.0, -30.0, -3500.0, -8.0],
                [-35.0, -11.0, -24.0, -30.0],
                [-38.0, -33.0, -20.0, -9.0],
            )
        )
        cases += [
            _dpo_case("loss", _dpo_logps(10, 64, np.float64), 0.1, False),
            _dpo_case("loss", _dpo_logps(11, 1), 0.3, False),
            _dpo_case("loss", _dpo_logps(12, 16), 0.05, False),
            _dpo_case("stable", huge, 0.5, False),
            _dpo_case("stable", tuple(a.astype(np.float32) for a in huge), 0.2, False),
            _dpo_case("rewards", _dpo_logps(13, 16, np.float64), 0.5, False),
            _dpo_case("rewards", _dpo_logps(14, 1), 0.1, False),
            _dpo_case("scalar", _dpo_logps(15, 8, np.float64), 0.2, False),
        ]
    return cases


def _dpo_compare(case: Case, got: Any, expected: Any) -> None:
    out, attached, *grads = items_of(got, "the runner", 4)
    out_e, attached_e, *grads_e = items_of(expected, "the runner", 4)
    if attached_e is None:  # comparing with a catalogued mistake that returns no triple
        if kind_of(out) != kind_of(out_e):
            raise GradingError("different kinds of result")
        expect_like(out, out_e, "result", case.label)
        return
    loss, chosen, rejected = items_of(out, "dpo_loss (loss, chosen_rewards, rejected_rewards)", 3)
    loss_e, chosen_e, rejected_e = items_of(out_e, "the expected result", 3)
    if case.subcheck in ("loss", "stable"):
        expect_like(loss, loss_e, "loss", case.label)
    elif case.subcheck == "rewards":
        expect_like(chosen, chosen_e, "chosen_rewards", case.label)
        expect_like(rejected, rejected_e, "rejected_rewards", case.label)
        if attached != attached_e:
            which = " and ".join(
                n for n, a, e in zip(("chosen_rewards", "rejected_rewards"), attached, attached_e) if a != e
            )
            raise GradingError(
                f"{which} for {case.label}: "
                + (
                    "still attached to the graph (requires_grad is True): "
                    "return them detached (.detach()); they are for reading, not for training"
                    if attached_e == [False, False]
                    else "attached differently"
                )
            )
    else:
        expect_scalar_with_gradient(
            "dpo_loss", loss, loss_e, grads, grads_e, "the policy's log-probabilities", case.label
        )


# The catalogue, in the order a match is named: each id is a file in mistakes/dpo_loss/.
MISTAKES = (
    "log_of_sigmoid",
    "bce_on_probabilities",
    "sign_flipped",
    "reference_minus_policy",
    "wrong_pairs",
    "no_beta",
    "beta_on_loss",
    "missing_minus",
    "sum",
    "mean_before_sigmoid",
    "hinge",
    "ipo",
    "rewards_not_detached",
    "rewards_without_beta",
    "rewards_policy_only",
    "rewards_swapped",
    "rewards_averaged",
    "item",
    "all_detached",
)

DPO_LOSS = Exercise(
    name="dpo_loss",
    cell="dpo_loss",
    test_cell="dpo_loss_tests",
    points=4,
    subchecks=(
        SubCheck(
            "loss",
            1.0,
            "the loss is the mean over the batch of -log sigmoid(beta * ((policy_chosen_logps - "
            "ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps))), TRL's sigmoid DPO loss",
        ),
        SubCheck(
            "stable",
            1.0,
            "the loss stays finite and exact for large log-ratios (hundreds): log-sigmoid, not log(sigmoid(...))",
        ),
        SubCheck(
            "rewards",
            1.0,
            "chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps) and rejected_rewards "
            "= beta * (policy_rejected_logps - ref_rejected_logps), one per pair, detached",
        ),
        SubCheck(
            "scalar",
            1.0,
            "the loss is a 0-dim float tensor whose gradient reaches the policy's log-probabilities "
            "(the reference's come without gradients)",
        ),
    ),
    cases=_dpo_cases,
    run=RUNNERS["dpo_loss"],
    compare=_dpo_compare,
    forbidden=Forbidden(
        python=(f"{PREFERENCE}:dpo_loss", f"{PREFERENCE}:reward_model_loss"),
        names=(PREFERENCE, "DPOTrainer", "trl"),
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_dpo_loss(fn, hidden: bool = False) -> None:
    """Exercise 5, against TRL's sigmoid DPO loss in float64. Hidden: more sizes and betas, float64, larger
    log-ratios."""
    check(DPO_LOSS, fn, hidden)
