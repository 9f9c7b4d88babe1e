"""Exercise 6, ``score_choices(logits_fn, context_ids, choice_ids) -> list[float]``, against small
random ``GPT2LMHeadModel``\\ s in float64: each choice's log-likelihood is minus the cross-entropy of the
context + choice with the context's labels -100."""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F

from llmcourse.grading.contract import (
    Case,
    Exercise,
    GradingError,
    SubCheck,
    check,
    expect_float,
    float_of,
    kind_of,
    to_plain,
    values_of,
)
from llmcourse.grading.kit import cases_once, catalogue, seeded
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch04 import RUNNERS, TINY_GPT2, tiny_model
from llmcourse.grading.wire import tensor_meta

from .common import CHOICE_FORBIDDEN, tiny_weights


def _logits64(model, ids: list[int]) -> torch.Tensor:
    """The float64 logits (T, V) of ``model`` (already in float64) for one row of ids."""
    return model(torch.tensor([ids])).logits[0]


@torch.no_grad()
def _sc_oracle(model64, context: list[int], choice: list[int]) -> float:
    """log P(choice | context): minus the summed cross-entropy of the model's float64 logits with the
    context's labels set to -100 (what a Hugging Face causal LM's loss ignores), shifted by one."""
    ids = context + choice
    labels = torch.tensor(ids)
    labels[: len(context)] = -100
    logits = _logits64(model64, ids)  # (T, V)
    return -F.cross_entropy(logits[:-1], labels[1:], ignore_index=-100, reduction="sum").item()


def _sc_case(sub: str, seed: int, n_context: int, lengths: list[int], visible: bool, shared: int = 0) -> Case:
    """Random context and choices (``shared``: how many first tokens every choice shares) on one of three
    tiny models."""
    weights = tiny_weights(seed % 3)
    model64 = tiny_model(weights).double()
    g = seeded(2000 + seed)
    V = TINY_GPT2["vocab_size"]
    context = torch.randint(0, V, (n_context,), generator=g).tolist()
    prefix = torch.randint(0, V, (shared,), generator=g).tolist()
    choices = [prefix + torch.randint(0, V, (n - shared,), generator=g).tolist() for n in lengths]
    expected = [_sc_oracle(model64, context, choice) for choice in choices]
    label = (
        f"a GPT2LMHeadModel's logits_fn, context_ids of {n_context} tokens, {len(choices)} choices of {lengths} tokens"
    )
    if shared:
        label += f" (each starting with the same {shared} token{'s' if shared > 1 else ''})"
    inputs = {"state": weights, "context": context, "choices": choices}
    return Case(sub, inputs, to_plain(expected), label, visible)


@cases_once
def _sc_cases(hidden: bool) -> list[Case]:
    with one_thread():
        cases = [
            _sc_case("single", 0, 5, [1, 1, 1, 1], True),
            _sc_case("single", 1, 1, [1, 1, 1], True),
            _sc_case("multi", 2, 4, [3, 3, 3], True),
            _sc_case("multi", 3, 6, [2, 4, 1, 3], True, shared=1),
        ]
        if hidden:
            cases += [
                _sc_case("single", 10, 20, [1] * 6, False),
                _sc_case("single", 11, 2, [1, 1], False),
                _sc_case("single", 12, 40, [1] * 10, False),
                _sc_case("multi", 13, 10, [5, 1, 7], False),
                _sc_case("multi", 14, 1, [2, 3, 4, 5], False),
                _sc_case("multi", 15, 30, [10, 12, 8, 3], False, shared=2),
                _sc_case("multi", 16, 3, [20, 20], False),
            ]
    return cases


def _plain_floats(plain: Any) -> bool:
    """Whether ``plain`` is a list or tuple of Python numbers (not tensors)."""
    if not (isinstance(plain, dict) and ("list" in plain or "tuple" in plain)):
        return False
    return all(
        isinstance(v, int) and not isinstance(v, bool) or isinstance(v, dict) and "float" in v
        for v in cast(list, plain.get("list", plain.get("tuple")))
    )


def _numbers_of(plain: Any) -> list[float] | None:
    """The numbers of a plain list/tuple (of numbers or 0-dim tensors) or of a 1-dim tensor, else None."""
    if tensor_meta(plain) is not None:
        array = values_of(plain)  # a plain tensor: never None
        return [float(v) for v in array] if array.ndim == 1 else None
    if isinstance(plain, dict) and ("list" in plain or "tuple" in plain):
        values = [float_of(v) for v in cast(list, plain.get("list", plain.get("tuple")))]
        return None if None in values else cast(list[float], values)
    return None


def _form(plain: Any) -> str:
    """What kind of scores a plain result holds, in words: a list of Python floats, a tensor, or else."""
    if _plain_floats(plain):
        return "a list of Python floats"
    items = plain.get("list", plain.get("tuple")) if isinstance(plain, dict) else None
    if items:
        return f"a list holding {kind_of(items[0])}"
    return kind_of(plain)


def _sc_compare(case: Case, got: Any, expected: Any) -> None:
    want = _numbers_of(expected)
    if want is None:
        raise GradingError(
            f"score_choices for {case.label}: the result to compare with is {kind_of(expected)}, not scores"
        )
    # the requirement that says "a list of Python floats" (the oracle's result is one; a mistake's may be a tensor)
    if case.subcheck == "single" and _form(got) != _form(expected):
        raise GradingError(
            f"score_choices for {case.label}: expected {_form(expected)} ({len(want)}, one per choice), "
            f"got {_form(got)}" + (": use .item() on each score, or .tolist()" if _plain_floats(expected) else "")
        )
    values = _numbers_of(got)
    if values is None:
        raise GradingError(
            f"score_choices for {case.label}: expected a list of {len(want)} numbers, got {kind_of(got)}"
        )
    if len(values) != len(want):
        raise GradingError(
            f"score_choices for {case.label}: expected {len(want)} scores (one per choice), got {len(values)}"
        )
    for k, (value, wanted) in enumerate(zip(values, want)):
        expect_float(
            to_plain(value),
            wanted,
            what=f"score_choices, the log-likelihood of choice {k}",
            context=case.label,
            atol=1e-4,
            rtol=1e-5,
        )


# The catalogue, in the order a match is named: each id is a file in mistakes/score_choices/.
MISTAKES = (
    "own_position",
    "context_included",
    "probabilities_summed",
    "likelihood_not_log",
    "mean_not_sum",
    "softmax_over_positions",
    "first_token_dropped",
    "no_teacher_forcing",
    "raw_logits",
    "negative_log_likelihood",
    "returns_tensor",
    "list_of_tensors",
    "context_extended_in_place",
)

SCORE_CHOICES = Exercise(
    name="score_choices",
    cell="score_choices",
    test_cell="score_choices_tests",
    points=3,
    subchecks=(
        SubCheck(
            "single",
            1.5,
            "returns a list of Python floats, one per choice; a one-token choice scores "
            "log_softmax of the logits at the context's last position, read at the choice's token; the context's "
            "own tokens are not scored",
        ),
        SubCheck(
            "multi",
            1.5,
            "a choice of several tokens scores the sum of their log-probabilities, token k predicted "
            "after the context and the choice's tokens before k (context + choice fed to the model)",
        ),
    ),
    cases=_sc_cases,
    run=RUNNERS["score_choices"],
    compare=_sc_compare,
    forbidden=CHOICE_FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_score_choices(fn, hidden: bool = False) -> None:
    """Exercise 6, against a tiny GPT-2's float64 loss over the choice's tokens. Hidden: longer contexts and choices."""
    check(SCORE_CHOICES, fn, hidden)
