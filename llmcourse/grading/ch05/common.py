"""What chapter 05's exercises share: the forbidden calls, the inputs and comparisons of the five
logits processors, and Hugging Face's ``generate`` (the decoders' oracle) with the comparison of
token ids the decoders return."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from llmcourse.grading.contract import (
    Case,
    Forbidden,
    GradingError,
    array_of,
    expect_tensor,
    kind_of,
    to_plain,
    values_of,
)
from llmcourse.grading.kit import seeded
from llmcourse.grading.wire import tensor_meta

REFERENCE = "llmcourse.decoding"

# Calling Hugging Face's processors or generate, or the course's reference, inside an answer.
# The Python layer swaps the *code* of these functions for a tripwire; functions wrapped by a
# decorator (generate, and the reference's decoders under torch.no_grad) are closures the guard
# does not swap, so their undecorated function is named through ``__wrapped__``.
FORBIDDEN = Forbidden(
    python=(
        "transformers.generation.utils:GenerationMixin.generate.__wrapped__",
        "transformers.generation.utils:GenerationMixin._sample",
        "transformers.generation.utils:GenerationMixin._beam_search",
        "transformers.generation.logits_process:TemperatureLogitsWarper",
        "transformers.generation.logits_process:TopKLogitsWarper",
        "transformers.generation.logits_process:TopPLogitsWarper",
        "transformers.generation.logits_process:RepetitionPenaltyLogitsProcessor",
        "transformers.generation.logits_process:LogitsProcessorList",
        f"{REFERENCE}:apply_temperature",
        f"{REFERENCE}:top_k_filter",
        f"{REFERENCE}:top_p_filter",
        f"{REFERENCE}:apply_repetition_penalty",
        f"{REFERENCE}:apply_frequency_presence_penalties",
        f"{REFERENCE}:sample",
        f"{REFERENCE}:greedy_decode.__wrapped__",
        f"{REFERENCE}:beam_search.__wrapped__",
        f"{REFERENCE}:_beam_search_one",
        f"{REFERENCE}:generate_until.__wrapped__",
        f"{REFERENCE}:generate_with_cache.__wrapped__",
        "llmcourse.gpt:generate",
    ),
    names=(
        REFERENCE,
        "TemperatureLogitsWarper",
        "TopKLogitsWarper",
        "TopPLogitsWarper",
        "RepetitionPenaltyLogitsProcessor",
        "LogitsProcessorList",
        "logits_process",
        "GenerationMixin",
    ),
)


def robust(compare):
    """A comparison that turns any malformed result into a GradingError (never a grader crash)."""

    @functools.wraps(compare)
    def wrapped(case: Case, got: Any, expected: Any) -> None:
        try:
            compare(case, got, expected)
        except GradingError:
            raise
        except Exception as exc:  # noqa: BLE001 - the student's result had an unexpected form
            raise GradingError(f"an unusable result for {case.label} ({type(exc).__name__})") from None

    return wrapped


def fields(plain: Any) -> dict:
    """The fields of a plain dict that a ``run`` function returned."""
    if isinstance(plain, dict) and isinstance(plain.get("dict"), dict):
        return plain["dict"]
    raise GradingError(f"an unusable result: {kind_of(plain)}")


# ================================================================ logits processors

# ---------------------------------------------------------------- inputs


def random_logits(B: int, V: int, seed: int, scale: float = 3.0) -> torch.Tensor:
    """Tie-free logits ``(B, V)`` of both signs."""
    logits = scale * torch.randn(B, V, generator=seeded(seed))
    rank = logits.argsort(dim=-1).argsort(dim=-1).float()  # push float32 duplicates apart
    logits = logits + 1e-3 * rank
    assert all(len(row.unique()) == V for row in logits), "tie-free logits expected"
    return logits


def after_top_k(B: int, V: int, seed: int) -> torch.Tensor:
    """Logits where an earlier filter already set the negative ones to -inf."""
    logits = random_logits(B, V, seed)
    return logits.masked_fill(logits < 0, float("-inf"))


def repeated_ids(B: int, V: int, seed: int, T: int = 9) -> torch.Tensor:
    """``(B, T)`` ids drawn from the first few tokens, so that they repeat and differ between rows."""
    ids = torch.randint(0, min(V, 6), (B, T), generator=seeded(seed))
    return ids


def distinct_ids(B: int, V: int, seed: int, T: int = 6) -> torch.Tensor:
    """``(B, T)`` ids without repeats within a row (rows differ)."""
    g = seeded(seed)
    return torch.stack([torch.randperm(V, generator=g)[:T] for _ in range(B)])


def logits_label(logits: torch.Tensor, **params: Any) -> str:
    has_inf = bool(torch.isinf(logits).any())
    text = f"logits {tuple(logits.shape)}" + (" with -inf entries" if has_inf else "")
    for name, value in params.items():
        text += f", {name} {tuple(value.shape)}" if isinstance(value, torch.Tensor) else f", {name}={value!r}"
    return text


# ---------------------------------------------------------------- cases and comparisons


def processor_case(sub: str, oracle, args: tuple, label: str, visible: bool) -> Case:
    """A case whose expected outcome is the oracle's: new logits, or a ValueError."""
    try:
        out = oracle(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
        expected = {"out": out, "changed": False}
    except ValueError:
        expected = {"raised": "ValueError"}
    return Case(sub, {"args": args}, to_plain(expected), label, visible)


def processor_compare(what: str):
    @robust
    def compare(case: Case, got: Any, expected: Any) -> None:
        g, e = fields(got), fields(expected)
        if "raised" in e:
            if "raised" not in g:
                raise GradingError(
                    f"{what} for {case.label}: expected a ValueError, but it returned {kind_of(g.get('out'))}"
                )
            return
        if "raised" in g:
            raise GradingError(f"{what} raised ValueError for {case.label}, which is a valid input")
        if case.subcheck == "inputs":
            if g.get("changed") != e.get("changed"):
                raise GradingError(
                    f"{what} changed the logits passed to it ({case.label}): return a new tensor "
                    "(logits / t, masked_fill, or clone() first) and leave the input as it was"
                    if g.get("changed")
                    else f"{what} did not change its input for {case.label}"
                )
            return
        expect_logits(g.get("out"), e["out"], what=what, context=case.label)

    return compare


def expect_logits(got: Any, expected: Any, *, what: str, context: str) -> None:
    """Like :func:`expect_tensor`, but says which tokens a filter removed or kept by mistake."""
    e = values_of(expected)
    meta, a = tensor_meta(got), array_of(got)
    if meta is not None and a is not None and a.shape == e.shape and e.ndim == 2 and meta.kind == "torch.Tensor":
        removed_e, removed_a = np.isneginf(e), np.isneginf(a)
        wrong = np.argwhere(removed_e != removed_a)
        if len(wrong):
            b, j = (int(i) for i in wrong[0])
            kept_a, kept_e = int((~removed_a[b]).sum()), int((~removed_e[b]).sum())
            kept = f"it keeps {kept_a} tokens of row {b}, the answer keeps {kept_e}"
            if removed_a[b, j]:
                raise GradingError(
                    f"{what} for {context}: token {j} of row {b} should be kept (logit {e[b, j]:.6g}) but got -inf; "
                    f"{kept}"
                )
            raise GradingError(
                f"{what} for {context}: token {j} of row {b} should be removed (-inf) but got {a[b, j]:.6g}; {kept}"
            )
    expect_tensor(got, expected, what=what, context=context, atol=1e-5, rtol=1e-5)


def hf_processor(make):
    """``make(*params)`` builds a Hugging Face processor; the oracle calls it on the logits."""

    def oracle(logits, *params):
        return make(*params)(torch.zeros(logits.shape[0], 1, dtype=torch.long), logits)

    return oracle


# ================================================================ decoders

# The models the decoders run (tiny_model, course_model) are built in llmcourse.grading.runners.ch05,
# with the runners: the student's process rebuilds them from what a case carries.


def model_label(spec: tuple) -> str:
    seed, vocab_size, init = spec
    return f"a random GPT-2 (vocabulary {vocab_size}, seed {seed}{', flat distributions' if init < 0.2 else ''})"


def hf_generate(model, ids: torch.Tensor, **kwargs) -> torch.Tensor:
    """Hugging Face's ``generate`` (the oracle), without its warnings and on a copy of the ids."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return model.generate(ids.clone(), attention_mask=torch.ones_like(ids), **kwargs)
    finally:
        hf_logging.set_verbosity(level)


def ids_compare(what: str):
    @robust
    def compare(case: Case, got: Any, expected: Any) -> None:
        e = values_of(expected)
        meta = tensor_meta(got)
        if meta is None:
            raise GradingError(f"{what} for {case.label}: expected a tensor of token ids, got {kind_of(got)}")
        dtype = meta.dtype
        if not dtype.startswith(("int", "uint")):
            raise GradingError(
                f"{what} for {case.label}: expected integer token ids (torch.long), got dtype torch.{dtype}"
            )
        a = values_of(got)
        if a.shape != e.shape:
            rows = (
                f"\n  expected row 0: {e[0].tolist()}\n  got row 0:      "
                f"{a[0].tolist() if a.ndim == 2 and len(a) else a.tolist()}"
                if a.ndim <= 2
                else ""
            )
            raise GradingError(
                f"{what} for {case.label}: expected shape {e.shape} (B, T + new tokens, prompt included), got "
                f"{a.shape}{rows}"
            )
        wrong = np.nonzero(a != e)
        if len(wrong[0]):
            b, t = int(wrong[0][0]), int(wrong[1][0])
            raise GradingError(
                f"{what} for {case.label}: row {b} differs from position {t} on"
                f"\n  expected row {b}: {e[b].tolist()}\n  got row {b}:      {a[b].tolist()}"
            )

    return compare


# The random GPT-2 models the decoders' cases use, and their prompts.
PEAKED = (0, 50, 0.3)  # the random GPT-2 most cases use (seed, vocabulary, initializer range)
OTHER = (1, 64, 0.3)


def prompts(n: int, T: int, vocab_size: int, seed: int) -> torch.Tensor:
    return torch.randint(0, vocab_size, (n, T), generator=seeded(seed))
