"""Exercise 2, ``sliding_window_perplexity(model, input_ids, max_length, stride) -> float``, against
small random ``GPT2LMHeadModel``\\ s (fixed seeds): each token scored on its own by a forward pass over
the context its window gives it, and the model's own loss when the text fits one window."""

from __future__ import annotations

import math
from typing import Any

import torch

from llmcourse.grading.contract import Case, Exercise, Forbidden, SubCheck, check, to_plain
from llmcourse.grading.kit import cases_once, catalogue, seeded
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch04 import RUNNERS, TINY_GPT2, tiny_model

from .common import METRICS, METRICS_FUNCTIONS, REFERENCE_NAMES, expect_number, expect_python_float, tiny_weights


@torch.no_grad()
def _sw_oracle(model, input_ids: torch.Tensor, max_length: int, stride: int) -> float:
    """Brute force: each token t >= 1 on its own, with the context of the first window that
    reaches it (windows start at 0, stride, 2 stride, ... and read max_length tokens)."""
    N = input_ids.shape[1]
    total = 0.0
    for t in range(1, N):
        begin = 0
        while begin + max_length <= t:
            begin += stride
        logits = model(input_ids[:, begin:t]).logits[0, -1].double()  # predicts token t
        total -= torch.log_softmax(logits, dim=-1)[input_ids[0, t]].item()
    return math.exp(total / (N - 1))


@torch.no_grad()
def _sw_case(sub: str, seed: int, N: int, max_length: int, stride: int, visible: bool, kind: str = "hf") -> Case:
    weights = tiny_weights(seed % 3)  # three models, shared by the cases
    model = tiny_model(weights)
    input_ids = torch.randint(0, TINY_GPT2["vocab_size"], (1, N), generator=seeded(1000 + seed))
    if max_length >= N:  # one window: the model's own loss on the whole text
        expected = math.exp(model(input_ids, labels=input_ids).loss.item())
    else:
        expected = _sw_oracle(model, input_ids, max_length, stride)
    what = (
        "a GPT2LMHeadModel"
        if kind == "hf"
        else "a plain function ids (B, T) -> logits (B, T, V) (wrapping a GPT2LMHeadModel)"
    )
    label = f"model = {what}, input_ids (1, {N}), max_length={max_length}, stride={stride}"
    inputs = {"state": weights, "input_ids": input_ids, "max_length": max_length, "stride": stride, "kind": kind}
    return Case(sub, inputs, to_plain(expected), label, visible)


@cases_once
def _sw_cases(hidden: bool) -> list[Case]:
    with one_thread():
        return _sw_case_list(hidden)


def _sw_case_list(hidden: bool) -> list[Case]:
    cases = [
        _sw_case("single", 0, 12, 16, 8, True),
        _sw_case("single", 1, 10, 10, 4, True),
        _sw_case("windows", 2, 41, 8, 4, True),
        _sw_case("windows", 3, 30, 16, 5, True),
        _sw_case("any_model", 4, 20, 8, 3, True, "function"),
    ]
    if hidden:
        cases += [
            _sw_case("single", 10, 2, 4, 2, False),
            _sw_case("single", 11, 30, 64, 10, False),
            _sw_case("windows", 12, 25, 6, 5, False),  # stride = max_length - 1: one token of context
            _sw_case("windows", 13, 12, 3, 1, False),
            _sw_case("windows", 14, 50, 10, 3, False),
            _sw_case("windows", 15, 33, 16, 8, False),
            _sw_case("windows", 16, 17, 16, 2, False),  # two windows, the second scores one token
            _sw_case("any_model", 17, 15, 15, 5, False, "function"),
            _sw_case("any_model", 18, 26, 9, 4, False, "function"),
        ]
    return cases


def _sw_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "single":  # the requirement that says "returns a Python float"
        expect_python_float(got, expected, what="sliding-window perplexity", context=case.label)
    expect_number(got, expected, what="sliding-window perplexity", context=case.label, atol=1e-6, rtol=1e-4)


# The catalogue, in the order a match is named: each id is a file in mistakes/sliding_window/.
MISTAKES = (
    "average_per_window",
    "trg_len_minus_1",
    "trg_len_weights_over_n",
    "rescores_overlap",
    "stride_max_length_swapped",
    "no_context",
    "hugging_face_only",
    "logits_attribute",
    "window_one_short",
    "first_window_only",
    "disjoint_windows",
    "divides_by_n",
    "returns_tensor",
    "first_output",
)

SLIDING_WINDOW = Exercise(
    name="sliding_window_perplexity",
    cell="sliding_window",
    test_cell="sliding_window_tests",
    points=3,
    subchecks=(
        SubCheck(
            "single",
            0.5,
            "returns a Python float (not a tensor); a text that fits in max_length: exp of the mean NLL "
            "of tokens 1..N-1, as the model's own loss",
        ),
        SubCheck(
            "windows",
            2.0,
            "windows of max_length tokens every stride tokens; each token after the first scored once, "
            "in the first window that reaches it; the mean over all N-1 tokens",
        ),
        SubCheck("any_model", 0.5, "model may be anything logits_fn accepts (here a plain function ids -> logits)"),
    ),
    cases=_sw_cases,
    run=RUNNERS["sliding_window"],
    compare=_sw_compare,
    forbidden=Forbidden(python=tuple(f"{METRICS}:{name}" for name in METRICS_FUNCTIONS), names=REFERENCE_NAMES),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_sliding_window_perplexity(fn, hidden: bool = False) -> None:
    """Exercise 2, against each token scored on its own with its window's context, on small
    random GPT-2 models. Hidden: more lengths, windows and strides."""
    check(SLIDING_WINDOW, fn, hidden)
