"""Exercise 7, ``generate_with_cache(model, idx, max_new_tokens)``: the tokens of Hugging Face's
``generate(do_sample=False, use_cache=False)``, and the forwards a KV cache needs (a wrapped model
records them)."""

from __future__ import annotations

import functools
from typing import Any

import torch

from llmcourse.grading.contract import Case, Exercise, GradingError, SubCheck, check, to_plain
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch05 import RUNNERS, tiny_model

from .common import FORBIDDEN, OTHER, PEAKED, fields, hf_generate, ids_compare, model_label, prompts, robust


def _calls(T: int, n: int) -> list[list[int]]:
    """The forwards cached greedy decoding makes: the prompt without a cache, then one new token at a time
    with the cache of everything before it, ``[tokens, cached positions]`` each (``n`` in all)."""
    return ([[T, 0]] if n else []) + [[1, T + i] for i in range(n - 1)]


def _cached_case(sub: str, spec: tuple, ids: torch.Tensor, n: int, visible: bool) -> Case:
    """Expected: Hugging Face's generate recomputing the whole sequence at every step (use_cache=False), and the
    forwards a KV cache needs."""
    if n:
        tokens = hf_generate(
            tiny_model(*spec),
            ids,
            do_sample=False,
            use_cache=False,
            max_new_tokens=n,
            min_new_tokens=0,
            eos_token_id=None,
            pad_token_id=0,
        )
    else:
        tokens = ids.clone()  # nothing to generate: the prompt itself
    label = f"prompts {tuple(ids.shape)}, max_new_tokens={n}, {model_label(spec)}"
    expected = {"ids": tokens, "calls": _calls(ids.shape[1], n)}
    return Case(sub, {"model": spec, "ids": ids, "max_new_tokens": n}, to_plain(expected), label, visible)


@functools.lru_cache(maxsize=2)
@one_thread()
def _cached_cases(hidden: bool) -> list[Case]:
    P, Q = prompts(4, 5, 50, 1), prompts(3, 7, 64, 2)
    cases = [
        _cached_case("tokens", PEAKED, P[:1], 15, True),
        _cached_case("tokens", OTHER, Q[:1], 12, True),
        _cached_case("cache", PEAKED, P[:1], 10, True),
        _cached_case("cache", OTHER, Q[:2], 6, True),
        _cached_case("prompt", PEAKED, P[:2], 0, True),
        _cached_case("prompt", PEAKED, P[1:2], 1, True),
        _cached_case("batch", PEAKED, P[:3], 10, True),
        _cached_case("batch", OTHER, Q, 8, True),
    ]
    if hidden:
        cases += [
            _cached_case("tokens", PEAKED, P[3:4], 20, False),
            _cached_case("tokens", OTHER, Q[2:3], 15, False),
            _cached_case("tokens", PEAKED, P[2:3, :3], 12, False),
            _cached_case("cache", OTHER, Q[1:2], 12, False),
            _cached_case("cache", PEAKED, P, 3, False),
            _cached_case("prompt", OTHER, Q, 0, False),
            _cached_case("prompt", OTHER, Q[:1], 1, False),
            _cached_case("batch", PEAKED, P, 15, False),
        ]
    return cases


def _pairs(plain: Any) -> list[tuple[int, int]]:
    """The ``calls`` a runner recorded, as (tokens, cached positions) pairs."""
    return [(int(item["list"][0]), int(item["list"][1])) for item in plain["list"]]


def _cached_compare(case: Case, got: Any, expected: Any) -> None:
    g, e = fields(got), fields(expected)
    if case.subcheck != "cache":
        ids_compare("generate_with_cache")(case, g["ids"], e["ids"])
        return
    mine, want = _pairs(g["calls"]), _pairs(e["calls"])
    for k, (a, b) in enumerate(zip(mine, want)):
        if a != b:
            raise GradingError(
                f"generate_with_cache for {case.label}: forward {k + 1} of the model should get {b[0]} token(s) "
                f"and a cache of {b[1]} positions; it got {a[0]} token(s) and a cache of {a[1]} positions"
                f"\n  expected forwards (tokens, cached): {want}\n  your forwards:                     {mine}"
            )
    if len(mine) != len(want):
        raise GradingError(
            f"generate_with_cache for {case.label}: expected {len(want)} forwards of the model (one per new token), "
            f"it ran {len(mine)}\n  expected forwards (tokens, cached): {want}\n  your forwards:                     "
            f"{mine}"
        )


# The catalogue, in the order a match is named: each id is a file in mistakes/cached/.
MISTAKES = (
    "full_recompute",
    "whole_sequence_with_cache",
    "new_token_without_cache",
    "rebuilds_cache_each_step",
    "first_position_logits",
    "extra_forward_after_last",
    "one_token_too_many",
    "one_token_too_few",
    "generates_for_zero",
    "flat_argmax",
    "new_token_1d",
    "drops_prompt",
    "prepends_tokens",
)

CACHED = Exercise(
    name="generate_with_cache",
    cell="generate_with_cache",
    test_cell="generate_with_cache_tests",
    points=3,
    subchecks=(
        SubCheck(
            "tokens",
            1.0,
            "the prompt followed by max_new_tokens greedy tokens, the same as recomputing the whole sequence at "
            "every step (generate(do_sample=False, use_cache=False))",
        ),
        SubCheck(
            "cache",
            1.0,
            "the first forward gets the whole prompt without a cache, every later one only the newest token (B, 1) "
            "and the cache of everything before it: one forward per new token",
        ),
        SubCheck("prompt", 0.5, "the prompt comes back unchanged at the start, and max_new_tokens=0 returns idx"),
        SubCheck("batch", 0.5, "a batch of B prompts of the same length gives (B, T + max_new_tokens), row by row"),
    ),
    cases=_cached_cases,
    run=RUNNERS["cached"],
    compare=robust(_cached_compare),
    forbidden=FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_generate_with_cache(fn, hidden: bool = False) -> None:
    """Exercise 7, against Hugging Face's generate(do_sample=False, use_cache=False) and the forwards a cache needs."""
    check(CACHED, fn, hidden)
