"""Exercise 1, ``perplexity(logits, input_ids, attention_mask=None) -> float``, against
``torch.nn.functional.cross_entropy`` in float64 with the padding labelled -100 (what a Hugging Face
causal LM's loss does)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from llmcourse.grading.contract import Case, Exercise, Forbidden, SubCheck, check, to_plain
from llmcourse.grading.kit import cases_once, catalogue, seeded
from llmcourse.grading.runners.ch04 import RUNNERS

from .common import METRICS, METRICS_FUNCTIONS, REFERENCE_NAMES, expect_number, expect_python_float


def _ppl_oracle(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> float:
    """exp of the cross-entropy of logits[:, t] against input_ids[:, t+1], padding labelled -100 (float64)."""
    labels = input_ids.clone()
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    V = logits.shape[-1]
    loss = F.cross_entropy(logits[:, :-1].double().reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    return math.exp(loss.item())


def _ppl_case(sub: str, seed: int, B: int, T: int, V: int, lengths: list[int] | None, visible: bool) -> Case:
    g = seeded(seed)
    logits = torch.randn(B, T, V, generator=g) * 2.5  # (B, T, V): spread out, so that mistakes show
    input_ids = torch.randint(0, V, (B, T), generator=g)
    mask = None
    label = f"logits {(B, T, V)}, input_ids {(B, T)}"
    if lengths is not None:
        mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).long()  # right padding
        input_ids = input_ids.masked_fill(mask == 0, 0)  # padding id 0
        label += f", attention_mask with {lengths} real tokens per row (then padding)"
    else:
        label += ", no attention_mask"
    return Case(sub, (logits, input_ids, mask), to_plain(_ppl_oracle(logits, input_ids, mask)), label, visible)


@cases_once
def _ppl_cases(hidden: bool) -> list[Case]:
    cases = [
        _ppl_case("shift", 0, 1, 6, 7, None, True),
        _ppl_case("shift", 1, 1, 9, 11, None, True),
        _ppl_case("batch", 2, 3, 5, 7, None, True),
        _ppl_case("mask", 3, 3, 7, 9, [7, 3, 5], True),
        _ppl_case("mask", 4, 2, 6, 8, [2, 6], True),
    ]
    if hidden:
        cases += [
            _ppl_case("shift", 10, 1, 2, 5, None, False),
            _ppl_case("shift", 11, 1, 40, 50, None, False),
            _ppl_case("batch", 12, 4, 9, 13, None, False),
            _ppl_case("batch", 13, 8, 3, 30, None, False),
            _ppl_case("mask", 14, 4, 12, 20, [12, 1, 7, 2], False),
            _ppl_case("mask", 15, 5, 16, 64, [3, 16, 9, 16, 10], False),
            _ppl_case("mask", 16, 2, 30, 17, [30, 30], False),
        ]
    return cases


def _ppl_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "shift":  # the requirement that says "returns a Python float"
        expect_python_float(got, expected, what="perplexity", context=case.label)
    expect_number(got, expected, what="perplexity", context=case.label, atol=1e-6, rtol=1e-5)


# The catalogue, in the order a match is named: each id is a file in mistakes/perplexity/.
MISTAKES = (
    "no_shift",
    "padding_counted",
    "log_base_2",
    "mean_of_sequence_perplexities",
    "mask_on_inputs",
    "divides_by_tokens",
    "shift_wrong_way",
    "no_log_softmax",
    "softmax_over_time",
    "no_exp",
    "mean_of_token_perplexities",
    "first_row_only",
    "returns_tensor",
    "mean_over_all_positions",
)

PERPLEXITY = Exercise(
    name="perplexity",
    cell="perplexity",
    test_cell="perplexity_tests",
    points=3,
    subchecks=(
        SubCheck(
            "shift",
            1.5,
            "one text: returns a Python float (not a tensor); logits[:, t] predicts input_ids[:, t+1]; "
            "exp of the mean negative log-likelihood of those tokens",
        ),
        SubCheck(
            "batch",
            0.5,
            "a batch: one mean over all predicted tokens of the batch (not a mean of per-row perplexities)",
        ),
        SubCheck("mask", 1.0, "targets whose attention_mask is 0 (padding) are not counted"),
    ),
    cases=_ppl_cases,
    run=RUNNERS["perplexity"],
    compare=_ppl_compare,
    forbidden=Forbidden(
        python=tuple(f"{METRICS}:{name}" for name in METRICS_FUNCTIONS),
        names=REFERENCE_NAMES,
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_perplexity(fn, hidden: bool = False) -> None:
    """Exercise 1, against ``F.cross_entropy`` with the padding labelled -100. Hidden: more sizes and paddings."""
    check(PERPLEXITY, fn, hidden)
