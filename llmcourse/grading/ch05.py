"""Graded checks of chapter 05 (controlling LLM outputs), declared for the grading engine.

Test cells call ``check_apply_temperature(fn)``, ``check_top_k_filter(fn)``, ``check_top_p_filter(fn)``,
``check_apply_repetition_penalty(fn)``, ``check_apply_frequency_presence_penalties(fn)``,
``check_greedy_decode(fn)``, ``check_generate_with_cache(fn)``, ``check_beam_search(fn)`` and
``check_generate_until(fn)`` (visible cases); the hidden part adds ``hidden=True``.

Expected values come from an independent oracle, never from :mod:`llmcourse.decoding`:

- the logits processors: Hugging Face's ``TemperatureLogitsWarper``, ``TopKLogitsWarper``,
  ``TopPLogitsWarper`` and ``RepetitionPenaltyLogitsProcessor``; a plain loop over the tokens for
  the OpenAI API's frequency and presence penalties;
- the decoders: Hugging Face's ``generate`` on small seeded random GPT-2 models (greedy, greedy
  recomputing the whole sequence for the KV-cache exercise, whose forwards a wrapped model records; beam
  search) and on the course's ``course-gpt`` (stop strings, where real text matters), the stop
  strings searched in the text of the tokens ``generate`` produced, one token at a time.

The student's process gets only inputs: logits and ids as tensors, a random model as the seed and
sizes it is rebuilt from (:func:`~llmcourse.grading.runners.ch05.tiny_model`), the course model by name.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    Mistake,
    SubCheck,
    check,
    expect_tensor,
    kind_of,
    to_plain,
    values_of,
)
from llmcourse.grading.kit import seeded, variant
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch05 import RUNNERS, course_model, tiny_model

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


def _robust(compare):
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


def _fields(plain: Any) -> dict:
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


def tied_logits() -> torch.Tensor:
    """Logits ``(5, 20)`` full of ties: small integers, and a first row with three tied maxima."""
    logits = torch.randint(-3, 4, (5, 20), generator=seeded(3)).float()
    logits[0] = torch.tensor([5.0, 5.0, 5.0] + [0.0] * 17)
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


def _nucleus_margin(logits: torch.Tensor, p: float) -> float:
    """How far every running total of probabilities (most likely first) is from ``p``: a correct
    answer summing in another order or precision cannot land on the other side of it."""
    probs = torch.softmax(logits.double(), dim=-1).sort(dim=-1, descending=True).values
    return float((probs.cumsum(dim=-1) - p).abs().min())


def nucleus_logits(B: int, V: int, p: float, seed: int) -> torch.Tensor:
    """Tie-free logits whose cumulative probabilities keep clear of ``p`` (the first seed from ``seed``)."""
    for s in range(seed, seed + 100):
        logits = random_logits(B, V, s)
        if _nucleus_margin(logits, p) > 1e-4:
            return logits
    raise AssertionError("no logits with a clear nucleus found")


def _label(logits: torch.Tensor, **params: Any) -> str:
    has_inf = bool(torch.isinf(logits).any())
    text = f"logits {tuple(logits.shape)}" + (" with -inf entries" if has_inf else "")
    for name, value in params.items():
        text += f", {name} {tuple(value.shape)}" if isinstance(value, torch.Tensor) else f", {name}={value!r}"
    return text


# ---------------------------------------------------------------- cases and comparisons


def _processor_case(sub: str, oracle, args: tuple, label: str, visible: bool) -> Case:
    """A case whose expected outcome is the oracle's: new logits, or a ValueError."""
    try:
        out = oracle(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
        expected = {"out": out, "changed": False}
    except ValueError:
        expected = {"raised": "ValueError"}
    return Case(sub, {"args": args}, to_plain(expected), label, visible)


def _processor_compare(what: str):
    @_robust
    def compare(case: Case, got: Any, expected: Any) -> None:
        g, e = _fields(got), _fields(expected)
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
        _expect_logits(g.get("out"), e["out"], what=what, context=case.label)

    return compare


def _expect_logits(got: Any, expected: Any, *, what: str, context: str) -> None:
    """Like :func:`expect_tensor`, but says which tokens a filter removed or kept by mistake."""
    e = values_of(expected)
    a = values_of(got) if isinstance(got, dict) and "tensor" in got else None
    if a is not None and a.shape == e.shape and e.ndim == 2 and got["tensor"]["kind"] == "torch.Tensor":
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


def _hf_processor(make):
    """``make(*params)`` builds a Hugging Face processor; the oracle calls it on the logits."""

    def oracle(logits, *params):
        return make(*params)(torch.zeros(logits.shape[0], 1, dtype=torch.long), logits)

    return oracle


# ---------------------------------------------------------------- exercise 1: temperature

_temperature_oracle = _hf_processor(lambda t: TemperatureLogitsWarper(float(t)))


@functools.lru_cache(maxsize=2)
def _temperature_cases(hidden: bool) -> list[Case]:
    def case(sub, logits, t, visible=True):
        return _processor_case(sub, _temperature_oracle, (logits, t), _label(logits, temperature=t), visible)

    cases = [
        case("values", random_logits(1, 7, 0), 0.5),
        case("values", random_logits(3, 50, 1), 2.0),
        case("values", random_logits(2, 9, 2), 1.0),
        case("values", after_top_k(3, 50, 3), 0.7),
        case("raises", random_logits(2, 9, 4), 0.0),
        case("raises", random_logits(2, 9, 12), -0.5),
        case("inputs", random_logits(2, 9, 5), 0.5),
    ]
    if hidden:
        cases += [
            case("values", random_logits(4, 1000, 6), 0.5, False),
            case("values", random_logits(4, 1000, 7), 7.0, False),
            case("values", random_logits(2, 64, 8), 1e-3, False),
            case("values", random_logits(1, 1, 9), 1.5, False),
            case("raises", random_logits(2, 9, 10), -3.0, False),
            case("inputs", random_logits(4, 100, 11), 2.0, False),
        ]
    return cases


TEMPERATURE = Exercise(
    name="apply_temperature",
    cell="temperature",
    test_cell="temperature_tests",
    points=2,
    subchecks=(
        SubCheck(
            "values",
            1.0,
            "returns the logits divided by the temperature, (B, V), for T < 1, T = 1, T > 1 and logits with -inf",
        ),
        SubCheck("raises", 0.5, "temperature <= 0 raises ValueError"),
        SubCheck("inputs", 0.5, "returns a new tensor and leaves the logits passed in unchanged"),
    ),
    cases=_temperature_cases,
    run=RUNNERS["temperature"],
    compare=_processor_compare("apply_temperature"),
    forbidden=FORBIDDEN,
    mistakes=(
        Mistake(
            "multiplies",
            "your temperature multiplies the logits by T; divide them (logits / T), so that T < 1 sharpens the "
            "distribution and T > 1 flattens it",
            """
import torch

def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return logits * temperature
""",
        ),
        Mistake(
            "after_softmax",
            "your temperature is applied after the softmax (it divides the probabilities); divide the logits, before "
            "the softmax, and return logits",
            """
import torch

def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    probs = torch.softmax(logits, dim=-1)
    return probs / temperature
""",
        ),
        Mistake(
            "returns_probabilities",
            "your temperature returns probabilities (the softmax of the scaled logits); return the scaled logits: "
            "the sampler applies the softmax after all the processors",
            """
import torch
import torch.nn.functional as F

def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return F.softmax(logits / temperature, dim=-1)
""",
        ),
        Mistake(
            "no_error_for_zero",
            "your temperature divides by zero for temperature 0 (and accepts negative ones); raise ValueError for "
            "temperature <= 0, as Hugging Face's TemperatureLogitsWarper does",
            """
def apply_temperature(logits, temperature):
    return logits / temperature
""",
        ),
        Mistake(
            "zero_means_greedy",
            "your temperature turns temperature 0 into greedy decoding; raise ValueError for temperature <= 0 "
            "(greedy decoding is a decoding strategy of its own, do_sample=False)",
            """
import torch

def apply_temperature(logits, temperature):
    if temperature < 0:
        raise ValueError("temperature must not be negative")
    if temperature == 0:
        best = logits.argmax(dim=-1, keepdim=True)
        out = torch.full_like(logits, float("-inf"))
        return out.scatter(-1, best, logits.gather(-1, best))
    return logits / temperature
""",
        ),
        Mistake(
            "modifies_input",
            "your temperature divides the caller's logits in place (logits /= T): return a new tensor and leave the "
            "input unchanged",
            """
def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    logits /= temperature
    return logits
""",
        ),
        Mistake(
            "only_zero_raises",
            "your temperature raises ValueError for temperature 0 only; a negative temperature is invalid too (it "
            "would reverse the order of the tokens): raise for temperature <= 0",
            """
def apply_temperature(logits, temperature):
    if temperature == 0:
        raise ValueError("temperature must not be 0")
    return logits / temperature
""",
        ),
        Mistake(
            "asserts",
            "your temperature checks with assert, which raises AssertionError (and is skipped under python -O); "
            "raise ValueError for temperature <= 0",
            """
def apply_temperature(logits, temperature):
    assert temperature > 0, "temperature must be positive"
    return logits / temperature
""",
        ),
        Mistake(
            "zero_returns_input",
            "your temperature returns the logits unchanged for temperature <= 0; raise ValueError instead (an "
            "invalid setting must not pass silently)",
            """
def apply_temperature(logits, temperature):
    if temperature <= 0:
        return logits.clone()
    return logits / temperature
""",
        ),
        Mistake(
            "returns_log_probabilities",
            "your temperature returns log-probabilities (log_softmax of the scaled logits); return the scaled logits "
            "themselves, logits / T",
            """
import torch

def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return torch.log_softmax(logits / temperature, dim=-1)
""",
        ),
        Mistake(
            "shifts_by_max",
            "your temperature subtracts each row's largest logit (a softmax's stability trick); the probabilities "
            "are the same but the logits are not: return logits / T, nothing else",
            """
def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return (logits - logits.max(dim=-1, keepdim=True).values) / temperature
""",
        ),
        Mistake(
            "replaces_inf",
            "your temperature replaces -inf logits by a large finite number (nan_to_num); a token removed by an "
            "earlier filter must stay -inf",
            """
import torch

def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return torch.nan_to_num(logits / temperature)
""",
        ),
    ),
)


# ---------------------------------------------------------------- exercise 2: top-k

_top_k_oracle = _hf_processor(lambda k: TopKLogitsWarper(k))


@functools.lru_cache(maxsize=2)
def _top_k_cases(hidden: bool) -> list[Case]:
    def case(sub, logits, k, visible=True):
        return _processor_case(sub, _top_k_oracle, (logits, k), _label(logits, k=k), visible)

    cases = [
        case("keeps", random_logits(1, 7, 0), 1),
        case("keeps", random_logits(3, 50, 1), 5),
        case("keeps", random_logits(2, 7, 2), 10),
        case("ties", tied_logits(), 1),
        case("ties", tied_logits(), 3),
        case("raises", random_logits(2, 9, 3), 0),
        case("raises", random_logits(2, 9, 10), -1),
    ]
    if hidden:
        cases += [
            case("keeps", random_logits(4, 1000, 4), 1, False),
            case("keeps", random_logits(4, 1000, 5), 50, False),
            case("keeps", random_logits(1, 7, 6), 6, False),
            case("keeps", random_logits(3, 50, 7), 50, False),
            case("keeps", after_top_k(3, 50, 8), 4, False),
            case("ties", tied_logits(), 7, False),
            case("ties", torch.zeros(2, 6), 2, False),
            case("raises", random_logits(2, 9, 9), -3, False),
        ]
    return cases


TOP_K = Exercise(
    name="top_k_filter",
    cell="top_k",
    test_cell="top_k_tests",
    points=2,
    subchecks=(
        SubCheck(
            "keeps",
            1.0,
            "keeps the k largest logits of each row unchanged and sets the others to -inf (k >= V keeps all)",
        ),
        SubCheck("ties", 0.5, "keeps every logit equal to the k-th largest (ties can keep more than k tokens)"),
        SubCheck("raises", 0.5, "k <= 0 raises ValueError"),
    ),
    cases=_top_k_cases,
    run=RUNNERS["top_k"],
    compare=_processor_compare("top_k_filter"),
    forbidden=FORBIDDEN,
    mistakes=(
        Mistake(
            "keeps_k_minus_1",
            "your top-k keeps k - 1 tokens: it removes the k-th largest logit too (<= instead of <)",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.sort(logits, dim=-1, descending=True).values[:, k - 1 : k]
    return logits.masked_fill(logits <= kth, float("-inf"))
""",
        ),
        Mistake(
            "drops_ties",
            "your top-k keeps exactly the k indices torch.topk returns; keep every logit equal to the k-th largest, "
            "so that tied tokens all stay (as Hugging Face does)",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    values, indices = torch.topk(logits, k, dim=-1)
    out = torch.full_like(logits, float("-inf"))
    return out.scatter(-1, indices, values)
""",
        ),
        Mistake(
            "keeps_k_plus_1",
            "your top-k keeps k + 1 tokens: its threshold is the (k+1)-th largest logit (index k of the sorted "
            "logits; the k-th is at index k - 1)",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    if k >= logits.shape[-1]:
        return logits.clone()
    sorted_logits = torch.sort(logits, dim=-1, descending=True).values
    threshold = sorted_logits[:, k].unsqueeze(-1)
    return logits.masked_fill(logits < threshold, float("-inf"))
""",
        ),
        Mistake(
            "ascending_sort",
            "your top-k sorts in ascending order (torch.sort's default), so its threshold is the k-th smallest "
            "logit; sort with descending=True",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    sorted_logits, _ = torch.sort(logits, dim=-1)
    kth = sorted_logits[:, k - 1 : k]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
        ),
        Mistake(
            "fills_zero",
            "your top-k sets the removed logits to 0, which still has a probability after the softmax (more than a "
            "negative logit!); set them to -inf",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return torch.where(logits < kth, torch.zeros_like(logits), logits)
""",
        ),
        Mistake(
            "returns_probabilities",
            "your top-k returns the renormalised probabilities of the kept tokens; return the logits with -inf for "
            "the removed tokens (the sampler applies the softmax after all the processors)",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    filtered = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(filtered, dim=-1)
""",
        ),
        Mistake(
            "zero_disables",
            "your top-k treats k = 0 as 'no filtering'; generate's top_k=0 means that, but the filter itself must "
            "raise ValueError for k <= 0",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0 or k >= logits.shape[-1]:
        return logits.clone()
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
        ),
        Mistake(
            "k_above_vocabulary_crashes",
            "your top-k fails when k is larger than the vocabulary (torch.topk cannot take more than V values); k >= "
            "V keeps every token: use min(k, V)",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
        ),
        Mistake(
            "rejects_k_above_vocabulary",
            "your top-k raises ValueError when k is larger than the vocabulary; k >= V is valid and keeps every "
            "token (only k <= 0 is an error)",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0 or k > logits.shape[-1]:
        raise ValueError("k must be between 1 and the vocabulary size")
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
        ),
        Mistake(
            "only_zero_raises",
            "your top-k raises ValueError for k = 0 only; a negative k is invalid too: raise for k <= 0",
            """
import torch

def top_k_filter(logits, k):
    if k == 0:
        raise ValueError("k must not be 0")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
        ),
        Mistake(
            "threshold_not_kept_2d",
            "your top-k compares the logits (B, V) with a threshold of shape (B,), which broadcasts along the "
            "vocabulary; keep the threshold (B, 1) (values[:, -1:], or keepdim / unsqueeze(-1))",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
        ),
        Mistake(
            "returns_top_values",
            "your top-k returns the k largest values (B, k); return all V logits of each row, with -inf for the "
            "removed tokens, so that the token ids stay where they are",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    return torch.topk(logits, k, dim=-1).values
""",
        ),
        Mistake(
            "threshold_unsorted",
            "your top-k takes the logit at position k - 1 of the vocabulary as the threshold; the threshold is the "
            "k-th largest logit: sort (or torch.topk) first",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = logits[:, k - 1 : k]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
        ),
        Mistake(
            "fills_large_negative",
            "your top-k sets the removed logits to a large negative number; set them to -inf, so that their "
            "probability is exactly 0 and later filters see them as removed",
            """
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, -1e9)
""",
        ),
    ),
)


# ---------------------------------------------------------------- exercise 3: top-p

_top_p_oracle = _hf_processor(lambda p: TopPLogitsWarper(p))


@functools.lru_cache(maxsize=2)
def _top_p_cases(hidden: bool) -> list[Case]:
    def case(sub, logits, p, visible=True):
        return _processor_case(sub, _top_p_oracle, (logits, p), _label(logits, p=p), visible)

    cases = [
        case("nucleus", nucleus_logits(1, 7, 0.5, 0), 0.5),
        case("nucleus", nucleus_logits(3, 50, 0.9, 1), 0.9),
        case("nucleus", random_logits(2, 9, 2, scale=1.0), 1.0),
        case("nucleus", after_top_k(3, 50, 3), 0.3),
        case(
            "nucleus", random_logits(2, 1000, 2, scale=5.0), 1.0
        ),  # a long tail of tiny probabilities, as a real model's
        case("keeps_one", nucleus_logits(3, 50, 0.0, 4), 0.0),
    ]
    if hidden:
        cases += [
            case("nucleus", nucleus_logits(4, 1000, 0.5, 10), 0.5, False),
            case("nucleus", nucleus_logits(4, 1000, 0.9, 20), 0.9, False),
            case("nucleus", nucleus_logits(3, 50, 0.75, 30), 0.75, False),
            case("nucleus", nucleus_logits(1, 2, 0.6, 40), 0.6, False),
            case("nucleus", after_top_k(2, 100, 50), 0.95, False),
            case("nucleus", random_logits(3, 2000, 0, scale=4.0), 1.0, False),
            case("keeps_one", nucleus_logits(3, 50, 0.01, 60), 0.01, False),
            case("keeps_one", nucleus_logits(4, 1000, 0.0, 70), 0.0, False),
        ]
    return cases


_TOP_P = """import torch

def top_p_filter(logits, p):
    if p < 0 or p > 1:
        raise ValueError("p must be in [0, 1]")
    if p == 1:
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = torch.cumsum(probs, dim=-1) - probs  # probability of the tokens ranked above
    remove_sorted = mass_before >= p
    remove_sorted[:, 0] = False  # keep the most likely token
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
"""


TOP_P = Exercise(
    name="top_p_filter",
    cell="top_p",
    test_cell="top_p_tests",
    points=2,
    subchecks=(
        SubCheck(
            "nucleus",
            1.5,
            "keeps the smallest set of most likely tokens whose probabilities add up to at least p (the token that "
            "crosses p included), -inf elsewhere; p = 1 keeps all",
        ),
        SubCheck("keeps_one", 0.5, "always keeps the most likely token (p = 0 keeps exactly that one)"),
    ),
    cases=_top_p_cases,
    run=RUNNERS["top_p"],
    compare=_processor_compare("top_p_filter"),
    forbidden=FORBIDDEN,
    mistakes=(
        Mistake(
            "drops_crossing_token",
            "your top-p drops the token whose probability makes the total cross p; keep it (the kept set is the "
            "smallest whose probabilities add up to at least p)",
            """
import torch

def top_p_filter(logits, p):
    if p < 0 or p > 1:
        raise ValueError("p must be in [0, 1]")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative > p
    remove_sorted[:, 0] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
""",
        ),
        Mistake(
            "ascending_sort",
            "your top-p sorts in ascending order, so the running total starts from the least likely tokens; sort "
            "with descending=True (or remove the tokens whose ascending total stays at or below 1 - p)",
            variant(_TOP_P, ("torch.sort(logits, dim=-1, descending=True)", "torch.sort(logits, dim=-1)")),
        ),
        Mistake(
            "mask_not_unsorted",
            "your top-p applies the mask computed in sorted order directly to the logits in vocabulary order; "
            "scatter it back with the sort's indices first",
            variant(
                _TOP_P,
                ("    remove = remove_sorted.scatter(-1, order, remove_sorted)\n", ""),
                ("logits.masked_fill(remove, ", "logits.masked_fill(remove_sorted, "),
            ),
        ),
        Mistake(
            "cumsum_of_logits",
            "your top-p adds up the logits instead of the probabilities; apply the softmax before the cumulative sum",
            variant(_TOP_P, ("probs = torch.softmax(sorted_logits, dim=-1)", "probs = sorted_logits")),
        ),
        Mistake(
            "softmax_over_batch",
            "your top-p takes the softmax over the batch dimension (dim=0); each row's probabilities are a softmax "
            "over its vocabulary (dim=-1)",
            variant(
                _TOP_P, ("probs = torch.softmax(sorted_logits, dim=-1)", "probs = torch.softmax(sorted_logits, dim=0)")
            ),
        ),
        Mistake(
            "returns_probabilities",
            "your top-p returns probabilities with zeros for the removed tokens; return the logits with -inf for "
            "them (the sampler applies the softmax after all the processors)",
            variant(
                _TOP_P,
                (
                    'return logits.masked_fill(remove, float("-inf"))',
                    "return torch.softmax(logits, dim=-1).masked_fill(remove, 0.0)",
                ),
            ),
        ),
        Mistake(
            "removes_everything_for_p0",
            "your top-p removes every token when p = 0 (the mass before the most likely token, 0, is already >= p); "
            "the most likely token must always stay",
            variant(_TOP_P, ("    remove_sorted[:, 0] = False  # keep the most likely token\n", "")),
        ),
        Mistake(
            "p_equal_1_rounds",
            "your top-p removes tokens at p = 1: in float32 the running total of many tiny probabilities (a real "
            "model's long tail) reaches 1.0 before the last token; p = 1 keeps every token, so handle it on its own",
            variant(_TOP_P, ("    if p == 1:\n        return logits.clone()\n", "")),
        ),
        Mistake(
            "p_as_fraction_of_vocabulary",
            "your top-p keeps a fixed fraction p of the vocabulary; p is a probability mass: keep the most likely "
            "tokens until their probabilities add up to p",
            """
import math
import torch

def top_p_filter(logits, p):
    k = max(1, math.ceil(p * logits.shape[-1]))
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
        ),
        Mistake(
            "probability_threshold",
            "your top-p keeps the tokens whose own probability is at least p; top-p keeps the most likely tokens "
            "until their probabilities add up to p (the most likely one always)",
            """
import torch

def top_p_filter(logits, p):
    probs = torch.softmax(logits, dim=-1)
    return logits.masked_fill(probs < p, float("-inf"))
""",
        ),
        Mistake(
            "ascending_keeps_wrong_end",
            "your top-p sorts in ascending order, as Hugging Face does, but removes the tokens whose running total "
            "goes above 1 - p, the most likely ones; remove those whose ascending total stays at or below 1 - p",
            """
import torch

def top_p_filter(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove = cumulative > 1 - p
    remove[:, -1] = False
    return logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
""",
        ),
        Mistake(
            "gather_not_scatter",
            "your top-p puts the mask back in vocabulary order with gather(order); that applies the sort's "
            "permutation a second time: scatter(-1, order, mask) undoes it",
            variant(
                _TOP_P,
                (
                    "remove = remove_sorted.scatter(-1, order, remove_sorted)",
                    "remove = remove_sorted.gather(-1, order)",
                ),
            ),
        ),
        Mistake(
            "first_row_only",
            "your top-p computes the nucleus of the first row and applies it to every row; each row of the batch has "
            "its own distribution and its own nucleus",
            """
import torch

def top_p_filter(logits, p):
    sorted_logits, order = torch.sort(logits[0], descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    remove_sorted = torch.cumsum(probs, dim=-1) - probs >= p
    remove_sorted[0] = False
    remove = remove_sorted.scatter(0, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
""",
        ),
        Mistake(
            "fills_zero",
            "your top-p sets the removed logits to 0, which still has a probability after the softmax; set them to "
            "-inf",
            variant(
                _TOP_P, ('return logits.masked_fill(remove, float("-inf"))', "return logits.masked_fill(remove, 0.0)")
            ),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 4: repetition penalty


def _repetition_oracle(logits, ids, penalty):
    return RepetitionPenaltyLogitsProcessor(float(penalty))(ids, logits)


@functools.lru_cache(maxsize=2)
def _repetition_cases(hidden: bool) -> list[Case]:
    def case(sub, logits, ids, penalty, visible=True):
        return _processor_case(
            sub, _repetition_oracle, (logits, ids, penalty), _label(logits, generated_ids=ids, penalty=penalty), visible
        )

    cases = [
        case("sign", random_logits(1, 30, 0), distinct_ids(1, 30, 0), 1.3),
        case("sign", random_logits(2, 30, 1), distinct_ids(2, 30, 1), 0.8),
        case("once", random_logits(1, 20, 2), repeated_ids(1, 20, 2), 1.5),
        case("rows", random_logits(3, 50, 3), repeated_ids(3, 50, 3), 1.3),
        case("inputs", random_logits(2, 20, 4), repeated_ids(2, 20, 4), 1.3),
    ]
    if hidden:
        cases += [
            case("sign", random_logits(4, 1000, 5), distinct_ids(4, 1000, 5, T=30), 2.0, False),
            case("sign", random_logits(3, 50, 6), distinct_ids(3, 50, 6), 1.0, False),
            case("once", random_logits(2, 30, 7), repeated_ids(2, 30, 7, T=20), 1.2, False),
            # once and rows: penalties above 1, as their visible cases (below 1 is the sign requirement's)
            case("once", random_logits(1, 7, 8), torch.tensor([[3, 3, 3, 3]]), 2.5, False),
            case("rows", random_logits(4, 1000, 9), repeated_ids(4, 1000, 9, T=12), 1.6, False),
            case("inputs", random_logits(3, 50, 10), distinct_ids(3, 50, 10), 1.3, False),
        ]
    return cases


REPETITION = Exercise(
    name="apply_repetition_penalty",
    cell="repetition_penalty",
    test_cell="repetition_penalty_tests",
    points=2.5,
    subchecks=(
        SubCheck(
            "sign",
            1.0,
            "the logit of every token in generated_ids is divided by the penalty if positive, multiplied by it if "
            "negative; other logits unchanged",
        ),
        SubCheck("once", 0.5, "a token is penalised once, however often it occurs"),
        SubCheck("rows", 0.5, "each row is penalised for the tokens of its own row of generated_ids"),
        SubCheck("inputs", 0.5, "returns a new tensor and leaves the logits passed in unchanged"),
    ),
    cases=_repetition_cases,
    run=RUNNERS["repetition_penalty"],
    compare=_processor_compare("apply_repetition_penalty"),
    forbidden=FORBIDDEN,
    mistakes=(
        Mistake(
            "once_per_occurrence",
            "your repetition penalty is applied once per occurrence, so a token seen three times is penalised three "
            "times; penalise each distinct token once",
            """
def apply_repetition_penalty(logits, generated_ids, penalty):
    out = logits.clone()
    for b in range(out.shape[0]):
        for token in generated_ids[b].tolist():
            if out[b, token] > 0:
                out[b, token] = out[b, token] / penalty
            else:
                out[b, token] = out[b, token] * penalty
    return out
""",
        ),
        Mistake(
            "always_divides",
            "your repetition penalty divides every seen logit by the penalty; a negative logit divided by 1.3 gets "
            "larger (more likely): multiply negative logits, divide positive ones",
            """
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.gather(logits, 1, generated_ids)
    return logits.scatter(1, generated_ids, seen / penalty)
""",
        ),
        Mistake(
            "sign_swapped",
            "your repetition penalty multiplies positive logits and divides negative ones, which makes seen tokens "
            "more likely; divide positive logits, multiply negative ones",
            """
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.gather(logits, 1, generated_ids)
    seen = torch.where(seen > 0, seen * penalty, seen / penalty)
    return logits.scatter(1, generated_ids, seen)
""",
        ),
        Mistake(
            "batch_mixed",
            "your repetition penalty penalises, in every row, the tokens seen in any row of the batch; each sequence "
            "is penalised for its own tokens only",
            """
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    out = logits.clone()
    for token in set(generated_ids.flatten().tolist()):
        column = out[:, token]
        out[:, token] = torch.where(column < 0, column * penalty, column / penalty)
    return out
""",
        ),
        Mistake(
            "subtracts",
            "your repetition penalty subtracts the penalty from the logits; the CTRL penalty is multiplicative: "
            "divide positive logits by it, multiply negative ones",
            """
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, generated_ids, True)
    return torch.where(seen, logits - penalty, logits)
""",
        ),
        Mistake(
            "modifies_input",
            "your repetition penalty changes the caller's logits in place; return a new tensor and leave the input "
            "unchanged",
            """
def apply_repetition_penalty(logits, generated_ids, penalty):
    for b in range(logits.shape[0]):
        for token in set(generated_ids[b].tolist()):
            if logits[b, token] < 0:
                logits[b, token] *= penalty
            else:
                logits[b, token] /= penalty
    return logits
""",
        ),
        Mistake(
            "always_multiplies",
            "your repetition penalty multiplies every seen logit by the penalty, which makes a positive logit larger "
            "(more likely); divide positive logits, multiply the others",
            """
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.gather(logits, 1, generated_ids)
    return logits.scatter(1, generated_ids, seen * penalty)
""",
        ),
        Mistake(
            "first_row_ids",
            "your repetition penalty penalises every row for the tokens of the first row of generated_ids; each row "
            "is penalised for the tokens of its own row",
            """
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    out = logits.clone()
    seen = generated_ids[0]
    values = out[:, seen]
    out[:, seen] = torch.where(values > 0, values / penalty, values * penalty)
    return out
""",
        ),
        Mistake(
            "returns_seen_only",
            "your repetition penalty returns only the penalised logits of the seen tokens, (B, t); write them back "
            "into a copy of all the logits (scatter) and return (B, V)",
            """
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.gather(logits, 1, generated_ids)
    return torch.where(seen > 0, seen / penalty, seen * penalty)
""",
        ),
        Mistake(
            "rejects_penalty_below_1",
            "your repetition penalty raises an error for a penalty below 1; it is valid (it makes repetition more "
            "likely) and uses the same rule",
            """
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    if penalty < 1:
        raise ValueError("penalty must be >= 1")
    seen = torch.gather(logits, 1, generated_ids)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(1, generated_ids, seen)
""",
        ),
        Mistake(
            "repeated_only",
            "your repetition penalty only penalises tokens that occur more than once; every token that occurs in "
            "generated_ids at all is penalised (once)",
            """
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(counts > 1, penalised, logits)
""",
        ),
        Mistake(
            "last_token_only",
            "your repetition penalty only penalises the last token of each row; every token that occurs in "
            "generated_ids is penalised",
            """
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    last = generated_ids[:, -1:]
    seen = torch.gather(logits, 1, last)
    return logits.scatter(1, last, torch.where(seen > 0, seen / penalty, seen * penalty))
""",
        ),
    ),
)


# ---------------------------------------------------------------- exercise 5: OpenAI's penalties


def frequency_presence_loop(
    logits: torch.Tensor, generated_ids: torch.Tensor, frequency_penalty: float, presence_penalty: float
) -> torch.Tensor:
    """The OpenAI API's definition, one token at a time:
    ``logit[j] -= c[j] * frequency_penalty + (c[j] > 0) * presence_penalty``."""
    out = logits.clone()
    for b in range(logits.shape[0]):
        counts: dict[int, int] = {}
        for token in generated_ids[b].tolist():
            counts[token] = counts.get(token, 0) + 1
        for token, c in counts.items():
            out[b, token] = out[b, token] - (c * frequency_penalty + presence_penalty)
    return out


@functools.lru_cache(maxsize=2)
def _penalties_cases(hidden: bool) -> list[Case]:
    def case(sub, logits, ids, fp, pp, visible=True):
        label = _label(logits, generated_ids=ids, frequency_penalty=fp, presence_penalty=pp)
        return _processor_case(sub, frequency_presence_loop, (logits, ids, fp, pp), label, visible)

    cases = [
        case("frequency", random_logits(1, 20, 0), repeated_ids(1, 20, 0, T=12), 0.5, 0.0),
        case("presence", random_logits(1, 20, 1), repeated_ids(1, 20, 1, T=12), 0.0, 0.8),
        case("together", random_logits(3, 50, 2), repeated_ids(3, 50, 2, T=12), 0.5, 0.3),
        case("together", random_logits(2, 20, 3), torch.zeros(2, 0, dtype=torch.long), 0.5, 0.5),
        case("inputs", random_logits(2, 20, 4), repeated_ids(2, 20, 4), 0.5, 0.3),
    ]
    if hidden:
        cases += [
            # frequency and presence: one row, as their visible cases (rows are the together requirement's)
            case("frequency", random_logits(1, 1000, 5), repeated_ids(1, 1000, 5, T=30), 1.2, 0.0, False),
            case("presence", random_logits(1, 1000, 6), repeated_ids(1, 1000, 6, T=30), 0.0, 1.5, False),
            case("together", random_logits(4, 100, 7), repeated_ids(4, 100, 7, T=20), -0.4, -0.2, False),
            case("together", random_logits(3, 50, 8), distinct_ids(3, 50, 8), 0.7, 0.1, False),
            case("inputs", random_logits(3, 50, 9), repeated_ids(3, 50, 9), 1.0, 1.0, False),
        ]
    return cases


_PENALTIES_HEAD = (
    "import torch\n\n"
    "def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):\n"
)

PENALTIES = Exercise(
    name="apply_frequency_presence_penalties",
    cell="frequency_presence",
    test_cell="frequency_presence_tests",
    points=2.5,
    subchecks=(
        SubCheck("frequency", 1.0, "subtracts count * frequency_penalty from the logit of each token of generated_ids"),
        SubCheck("presence", 0.5, "subtracts presence_penalty once from the logit of each token that occurs at all"),
        SubCheck(
            "together", 0.5, "both penalties at once, each row counting its own tokens (none yet: logits unchanged)"
        ),
        SubCheck("inputs", 0.5, "returns a new tensor and leaves the logits passed in unchanged"),
    ),
    cases=_penalties_cases,
    run=RUNNERS["frequency_presence"],
    compare=_processor_compare("apply_frequency_presence_penalties"),
    forbidden=FORBIDDEN,
    mistakes=(
        Mistake(
            "presence_per_occurrence",
            "your presence penalty grows with the count (it is subtracted once per occurrence, or the two penalties "
            "are swapped); it is paid once for any token that occurs at all, only the frequency penalty grows with "
            "the count",
            _PENALTIES_HEAD
            + """
    counts = torch.zeros_like(logits)
    counts.scatter_add_(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits - counts * (frequency_penalty + presence_penalty)
""",
        ),
        Mistake(
            "scatter_not_add",
            "your frequency penalty does not grow with the count (scatter_ writes 1 for a token however often it "
            "occurs, or the two penalties are swapped); count with scatter_add_ (or bincount) and multiply by "
            "frequency_penalty",
            _PENALTIES_HEAD
            + """
    counts = torch.zeros_like(logits)
    counts.scatter_(1, generated_ids, 1.0)
    present = (counts > 0).float()
    return logits - counts * frequency_penalty - present * presence_penalty
""",
        ),
        Mistake(
            "adds_penalties",
            "your penalties are added to the logits, which makes repeated tokens more likely; the OpenAI API "
            "subtracts them",
            _PENALTIES_HEAD
            + """
    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits + counts * frequency_penalty + (counts > 0).float() * presence_penalty
""",
        ),
        Mistake(
            "swapped",
            "your penalties are swapped: the frequency penalty is multiplied by the count, the presence penalty is "
            "paid once per token that occurs",
            _PENALTIES_HEAD
            + """
    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits - counts * presence_penalty - (counts > 0).float() * frequency_penalty
""",
        ),
        Mistake(
            "batch_counts",
            "your penalties count the tokens of the whole batch; each row counts its own generated tokens",
            _PENALTIES_HEAD
            + """
    counts = torch.bincount(generated_ids.flatten(), minlength=logits.shape[-1]).to(logits.dtype)  # (V,)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
""",
        ),
        Mistake(
            "modifies_input",
            "your penalties change the caller's logits in place; return a new tensor and leave the input unchanged",
            """
from collections import Counter

def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    for b, row in enumerate(generated_ids.tolist()):
        for token, count in Counter(row).items():
            logits[b, token] -= count * frequency_penalty + presence_penalty
    return logits
""",
        ),
        Mistake(
            "presence_for_every_token",
            "your presence penalty is subtracted from every token (counts >= 0 is always true); only tokens that "
            "occur at least once (count > 0) pay it",
            _PENALTIES_HEAD
            + """
    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits - counts * frequency_penalty - (counts >= 0).to(logits.dtype) * presence_penalty
""",
        ),
        Mistake(
            "first_row_counts",
            "your penalties count the tokens of the first row for every row; each row counts its own generated tokens",
            _PENALTIES_HEAD
            + """
    counts = torch.bincount(generated_ids[0], minlength=logits.shape[-1]).to(logits.dtype)  # (V,)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
""",
        ),
        Mistake(
            "bincount_without_minlength",
            "your penalties count with torch.bincount without minlength, so the counts are only as long as the "
            "largest token id, not (V,); pass minlength=V",
            _PENALTIES_HEAD
            + """
    counts = torch.stack([torch.bincount(row) for row in generated_ids]).to(logits.dtype)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
""",
        ),
        Mistake(
            "one_hot_without_num_classes",
            "your penalties count with F.one_hot without num_classes, so the counts are as long as the largest token "
            "id + 1, not (V,); pass num_classes=V",
            _PENALTIES_HEAD
            + """
    import torch.nn.functional as F
    counts = F.one_hot(generated_ids).sum(dim=1).to(logits.dtype)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
""",
        ),
        Mistake(
            "counts_dtype",
            "your penalties scatter_add integer ones (torch.ones_like(generated_ids) is long) into float counts; "
            "give the ones the logits' dtype (dtype=logits.dtype)",
            _PENALTIES_HEAD
            + """
    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids))
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
""",
        ),
        Mistake(
            "presence_only_repeated",
            "your presence penalty only applies to tokens that occur more than once; any token that occurs at all "
            "(count > 0) pays it once",
            _PENALTIES_HEAD
            + """
    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits - counts * frequency_penalty - (counts > 1).to(logits.dtype) * presence_penalty
""",
        ),
    ),
)


# ================================================================ decoders

# The models the decoders run (tiny_model, course_model) are built in llmcourse.grading.runners.ch05,
# with the runners: the student's process rebuilds them from what a case carries.


def _model_label(spec: tuple) -> str:
    seed, vocab_size, init = spec
    return f"a random GPT-2 (vocabulary {vocab_size}, seed {seed}{', flat distributions' if init < 0.2 else ''})"


def _hf_generate(model, ids: torch.Tensor, **kwargs) -> torch.Tensor:
    """Hugging Face's ``generate`` (the oracle), without its warnings and on a copy of the ids."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return model.generate(ids.clone(), attention_mask=torch.ones_like(ids), **kwargs)
    finally:
        hf_logging.set_verbosity(level)


def _ids_compare(what: str):
    @_robust
    def compare(case: Case, got: Any, expected: Any) -> None:
        e = values_of(expected)
        if not (isinstance(got, dict) and "tensor" in got):
            raise GradingError(f"{what} for {case.label}: expected a tensor of token ids, got {kind_of(got)}")
        dtype = got["tensor"]["dtype"]
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


# ---------------------------------------------------------------- exercise 6: greedy decoding

PEAKED = (0, 50, 0.3)  # the random GPT-2 most cases use (seed, vocabulary, initializer range)
OTHER = (1, 64, 0.3)


def _prompts(n: int, T: int, vocab_size: int, seed: int) -> torch.Tensor:
    return torch.randint(0, vocab_size, (n, T), generator=seeded(seed))


def _greedy_case(
    sub: str, spec: tuple, ids: torch.Tensor, n: int, eos: int | None, pad: int, visible: bool, course_gpt: bool = False
) -> Case:
    """``course_gpt``: the answer gets the same weights as the course's GPT (whose forward returns
    a tuple), the oracle runs the Hugging Face model."""
    kwargs = {"eos_token_id": eos, "pad_token_id": pad} if eos is not None else {"eos_token_id": None}
    expected = _hf_generate(tiny_model(*spec), ids, do_sample=False, max_new_tokens=n, **kwargs)
    label = f"prompts {tuple(ids.shape)}, max_new_tokens={n}, " + (
        f"eos_token_id={eos}, pad_token_id={pad}" if eos is not None else "no end token"
    )
    label += f", {_model_label(spec)}" + (" as the course's GPT (llmcourse.gpt.GPT)" if course_gpt else "")
    inputs = {"model": spec, "ids": ids, "max_new_tokens": n, "eos": eos, "pad": pad, "course_gpt": course_gpt}
    return Case(sub, inputs, to_plain(expected), label, visible)


def _free_run(spec: tuple, ids: torch.Tensor, n: int) -> torch.Tensor:
    return _hf_generate(tiny_model(*spec), ids, do_sample=False, max_new_tokens=n, eos_token_id=None)[:, ids.shape[1] :]


@functools.lru_cache(maxsize=2)
@one_thread()
def _greedy_cases(hidden: bool) -> list[Case]:
    P = _prompts(4, 5, 50, 1)
    free = _free_run(PEAKED, P, 20)  # (4, 20): what greedy decoding produces without an end token
    first = int(free[0, 0])  # row 0 ends at its first token; rows 1 and 2 later
    cases = [
        _greedy_case("no_eos", PEAKED, P[:1], 15, None, 0, True),
        _greedy_case("no_eos", PEAKED, P[:3], 15, None, 0, True),
        _greedy_case("no_eos", PEAKED, P[:2], 10, None, 0, True, course_gpt=True),
        _greedy_case("eos_pad", PEAKED, P[:3], 10, first, 47, True),
        _greedy_case("stops", PEAKED, P[:1], 15, first, 0, True),
        _greedy_case("stops", PEAKED, P, 20, 37, 0, True),
    ]
    if hidden:
        Q = _prompts(3, 7, 64, 2)
        free_q = _free_run(OTHER, Q, 20)
        cases += [
            _greedy_case("no_eos", OTHER, Q, 20, None, 0, False),
            _greedy_case("no_eos", PEAKED, P[:, :1], 12, None, 0, False),
            _greedy_case("no_eos", OTHER, Q, 15, None, 0, False, course_gpt=True),
            _greedy_case("eos_pad", PEAKED, P[:3], 10, first, 0, False),
            _greedy_case("eos_pad", OTHER, Q, 12, int(free_q[1, 3]), 5, False),
            # stops: as its visible cases, every sequence ends before max_new_tokens, padded with 0
            # (the padding token given is the eos_pad requirement's)
            _greedy_case("stops", PEAKED, P[:3], 15, first, 0, False),
            _greedy_case("stops", OTHER, Q, 20, int(free_q[2, 0]), 0, False),
        ]
    return cases


_GREEDY = """import torch
from llmcourse.models import logits_fn

def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    logits_of = logits_fn(model)
    ids = input_ids
    finished = torch.zeros(ids.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_tok = logits_of(ids)[:, -1, :].argmax(dim=-1)
            if eos_token_id is not None:
                next_tok[finished] = pad_token_id
                finished = finished | (next_tok == eos_token_id)
            ids = torch.cat([ids, next_tok[:, None]], dim=1)
            if eos_token_id is not None and finished.all():
                break
    return ids
"""

GREEDY = Exercise(
    name="greedy_decode",
    cell="greedy",
    test_cell="greedy_tests",
    points=3,
    subchecks=(
        SubCheck(
            "no_eos",
            1.0,
            "without an end token: the prompt followed by max_new_tokens most likely tokens, (B, T + "
            "max_new_tokens), as generate(do_sample=False), for a Hugging Face model and the course's GPT",
        ),
        SubCheck(
            "eos_pad",
            1.0,
            "a sequence that has produced eos_token_id gets pad_token_id from then on, while the others go on",
        ),
        SubCheck("stops", 1.0, "decoding stops as soon as every sequence has produced the end token (which is kept)"),
    ),
    cases=_greedy_cases,
    run=RUNNERS["greedy"],
    compare=_ids_compare("greedy_decode"),
    forbidden=FORBIDDEN,
    mistakes=(
        Mistake(
            "no_padding_after_eos",
            "your greedy decoding keeps generating real tokens after a sequence's end token; once a sequence has "
            "produced eos_token_id, it gets pad_token_id at every later step",
            variant(_GREEDY, ("                next_tok[finished] = pad_token_id\n", "")),
        ),
        Mistake(
            "stops_at_first_eos",
            "your greedy decoding stops the whole batch as soon as one sequence produces the end token; the others "
            "go on (the finished ones get padding) until every sequence has ended",
            variant(
                _GREEDY,
                ("if eos_token_id is not None and finished.all():", "if eos_token_id is not None and finished.any():"),
            ),
        ),
        Mistake(
            "pads_with_eos",
            "your greedy decoding fills finished sequences with the end token; use pad_token_id after it",
            variant(_GREEDY, ("next_tok[finished] = pad_token_id", "next_tok[finished] = eos_token_id")),
        ),
        Mistake(
            "never_stops_early",
            "your greedy decoding always runs max_new_tokens steps; stop as soon as every sequence has produced the "
            "end token (Hugging Face returns the shorter tensor)",
            variant(
                _GREEDY, ("            if eos_token_id is not None and finished.all():\n                break\n", "")
            ),
        ),
        Mistake(
            "drops_prompt",
            "your greedy decoding returns only the new tokens; return the prompt followed by them, (B, T + n)",
            variant(_GREEDY, ("    return ids\n", "    return ids[:, input_ids.shape[1]:]\n")),
        ),
        Mistake(
            "eos_not_appended",
            "your greedy decoding stops before appending the end token that finishes the last sequence; the end "
            "token is part of the output",
            """
import torch
from llmcourse.models import logits_fn

def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    logits_of = logits_fn(model)
    ids = input_ids
    finished = torch.zeros(ids.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_tok = logits_of(ids)[:, -1, :].argmax(dim=-1)
            if eos_token_id is not None:
                next_tok[finished] = pad_token_id
                finished = finished | (next_tok == eos_token_id)
                if finished.all():
                    break
            ids = torch.cat([ids, next_tok[:, None]], dim=1)
    return ids
""",
        ),
        Mistake(
            "one_token_short",
            "your greedy decoding generates max_new_tokens - 1 tokens; the loop runs max_new_tokens times "
            "(range(max_new_tokens))",
            variant(_GREEDY, ("for _ in range(max_new_tokens):", "for _ in range(max_new_tokens - 1):")),
        ),
        Mistake(
            "max_new_tokens_as_total_length",
            "your greedy decoding stops when the whole sequence, prompt included, has max_new_tokens tokens; "
            "max_new_tokens counts the new tokens only (max_length would count them all)",
            """
import torch
from llmcourse.models import logits_fn

def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    logits_of = logits_fn(model)
    ids = input_ids
    finished = torch.zeros(ids.shape[0], dtype=torch.bool)
    with torch.no_grad():
        while ids.shape[1] < max_new_tokens:
            next_tok = logits_of(ids)[:, -1, :].argmax(dim=-1)
            if eos_token_id is not None:
                next_tok[finished] = pad_token_id
                finished = finished | (next_tok == eos_token_id)
            ids = torch.cat([ids, next_tok[:, None]], dim=1)
            if eos_token_id is not None and finished.all():
                break
    return ids
""",
        ),
        Mistake(
            "first_position_logits",
            "your greedy decoding picks the next token from the logits of the first position; the next token is "
            "predicted by the last position, logits[:, -1, :]",
            variant(_GREEDY, ("logits_of(ids)[:, -1, :]", "logits_of(ids)[:, 0, :]")),
        ),
        Mistake(
            "end_token_replaced",
            "your greedy decoding marks a sequence finished before padding, so its end token itself becomes "
            "pad_token_id; keep the end token, pad only from the next step on",
            variant(
                _GREEDY,
                (
                    "                next_tok[finished] = pad_token_id\n                finished = finished | "
                    "(next_tok == eos_token_id)\n",
                    "                finished = finished | (next_tok == eos_token_id)\n                "
                    "next_tok[finished] = pad_token_id\n",
                ),
            ),
        ),
        Mistake(
            "pads_with_zero",
            "your greedy decoding pads finished sequences with 0; use the pad_token_id it is given",
            variant(_GREEDY, ("next_tok[finished] = pad_token_id", "next_tok[finished] = 0")),
        ),
        Mistake(
            "hugging_face_only",
            "your greedy decoding reads model(ids).logits, which only a Hugging Face model has; the course's GPT "
            "returns a tuple (logits, loss): run the model through logits_fn(model)",
            """
import torch

def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    ids = input_ids
    finished = torch.zeros(ids.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_tok = model(ids).logits[:, -1, :].argmax(dim=-1)
            if eos_token_id is not None:
                next_tok[finished] = pad_token_id
                finished = finished | (next_tok == eos_token_id)
            ids = torch.cat([ids, next_tok[:, None]], dim=1)
            if eos_token_id is not None and finished.all():
                break
    return ids
""",
        ),
    ),
)


# ---------------------------------------------------------------- exercise 7: greedy decoding with a KV cache


def _calls(T: int, n: int) -> list[list[int]]:
    """The forwards cached greedy decoding makes: the prompt without a cache, then one new token at a time
    with the cache of everything before it, ``[tokens, cached positions]`` each (``n`` in all)."""
    return ([[T, 0]] if n else []) + [[1, T + i] for i in range(n - 1)]


def _cached_case(sub: str, spec: tuple, ids: torch.Tensor, n: int, visible: bool) -> Case:
    """Expected: Hugging Face's generate recomputing the whole sequence at every step (use_cache=False), and the
    forwards a KV cache needs."""
    if n:
        tokens = _hf_generate(
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
    label = f"prompts {tuple(ids.shape)}, max_new_tokens={n}, {_model_label(spec)}"
    expected = {"ids": tokens, "calls": _calls(ids.shape[1], n)}
    return Case(sub, {"model": spec, "ids": ids, "max_new_tokens": n}, to_plain(expected), label, visible)


@functools.lru_cache(maxsize=2)
@one_thread()
def _cached_cases(hidden: bool) -> list[Case]:
    P, Q = _prompts(4, 5, 50, 1), _prompts(3, 7, 64, 2)
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
    g, e = _fields(got), _fields(expected)
    if case.subcheck != "cache":
        _ids_compare("generate_with_cache")(case, g["ids"], e["ids"])
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


_CACHED = """import torch

def generate_with_cache(model, idx, max_new_tokens):
    ids = idx
    if max_new_tokens == 0:
        return ids
    with torch.no_grad():
        out = model(input_ids=idx, use_cache=True)
        for step in range(max_new_tokens):
            next_tok = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_tok], dim=1)
            if step + 1 < max_new_tokens:
                out = model(input_ids=next_tok, past_key_values=out.past_key_values, use_cache=True)
    return ids
"""

# The first token from the prompt's forward, outside the loop; then the loop.
_CACHED_FIRST_OUTSIDE = """import torch

def generate_with_cache(model, idx, max_new_tokens):
    with torch.no_grad():
        out = model(input_ids=idx, use_cache=True)
        next_tok = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        ids = torch.cat([idx, next_tok], dim=1)
        for _ in range(max_new_tokens - 1):
            out = model(input_ids=next_tok, past_key_values=out.past_key_values, use_cache=True)
            next_tok = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_tok], dim=1)
    return ids
"""

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
    compare=_robust(_cached_compare),
    forbidden=FORBIDDEN,
    mistakes=(
        Mistake(
            "full_recompute",
            "your generate_with_cache runs the whole sequence through the model at every step: the right tokens, "
            "but no cache; keep out.past_key_values and give the model only the new token with it",
            """import torch

def generate_with_cache(model, idx, max_new_tokens):
    ids = idx
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(input_ids=ids).logits
            next_tok = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_tok], dim=1)
    return ids
""",
        ),
        Mistake(
            "whole_sequence_with_cache",
            "your generate_with_cache passes the cache and the whole sequence again: the cache already holds those "
            "positions, so feed only the new token, (B, 1)",
            variant(_CACHED, ("model(input_ids=next_tok, past_key_values", "model(input_ids=ids, past_key_values")),
        ),
        Mistake(
            "new_token_without_cache",
            "your generate_with_cache feeds the new token without past_key_values: the model then sees that one "
            "token alone; pass past_key_values=out.past_key_values with it",
            variant(
                _CACHED,
                (
                    "model(input_ids=next_tok, past_key_values=out.past_key_values, use_cache=True)",
                    "model(input_ids=next_tok, use_cache=True)",
                ),
            ),
        ),
        Mistake(
            "rebuilds_cache_each_step",
            "your generate_with_cache rebuilds the cache from the whole sequence at every step (two forwards per "
            "token, the first over everything): keep the cache the previous forward returned",
            """import torch

def generate_with_cache(model, idx, max_new_tokens):
    ids = idx
    with torch.no_grad():
        for _ in range(max_new_tokens):
            past = model(input_ids=ids[:, :-1], use_cache=True).past_key_values
            logits = model(input_ids=ids[:, -1:], past_key_values=past, use_cache=True).logits
            next_tok = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_tok], dim=1)
    return ids
""",
        ),
        Mistake(
            "first_position_logits",
            "your generate_with_cache picks the first token from the logits of the prompt's first position; the next "
            "token is predicted by the last position, logits[:, -1, :]",
            variant(_CACHED, ("out.logits[:, -1, :]", "out.logits[:, 0, :]")),
        ),
        Mistake(
            "extra_forward_after_last",
            "your generate_with_cache runs the model once more after appending the last token; its logits are never "
            "used: n new tokens take n forwards",
            variant(
                _CACHED,
                ("            if step + 1 < max_new_tokens:\n                out = model(", "            out = model("),
            ),
        ),
        Mistake(
            "one_token_too_many",
            "your generate_with_cache appends the prompt's token and then max_new_tokens more: max_new_tokens + 1 "
            "new tokens; the loop after the first token runs max_new_tokens - 1 times",
            variant(_CACHED_FIRST_OUTSIDE, ("range(max_new_tokens - 1)", "range(max_new_tokens)")),
        ),
        Mistake(
            "one_token_too_few",
            "your generate_with_cache returns max_new_tokens - 1 new tokens; the loop appends one per step, "
            "range(max_new_tokens)",
            variant(_CACHED, ("for step in range(max_new_tokens):", "for step in range(max_new_tokens - 1):")),
        ),
        Mistake(
            "generates_for_zero",
            "your generate_with_cache appends the prompt's token even when max_new_tokens is 0; return idx then, "
            "without running the model",
            _CACHED_FIRST_OUTSIDE,
        ),
        Mistake(
            "flat_argmax",
            "your generate_with_cache takes argmax() over the whole (B, V) logits, one token for the batch; take it "
            "per row, argmax(dim=-1, keepdim=True) gives (B, 1)",
            variant(
                _CACHED,
                ("out.logits[:, -1, :].argmax(dim=-1, keepdim=True)", "out.logits[:, -1, :].argmax().view(1, 1)"),
            ),
        ),
        Mistake(
            "new_token_1d",
            "your generate_with_cache gives the model the new tokens as a 1-D tensor (B,); input_ids is always 2-D: "
            "give it (B, 1) (argmax(dim=-1, keepdim=True), or next_tok[:, None])",
            variant(
                _CACHED,
                (
                    "next_tok = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)",
                    "next_tok = out.logits[:, -1, :].argmax(dim=-1)",
                ),
                ("torch.cat([ids, next_tok], dim=1)", "torch.cat([ids, next_tok[:, None]], dim=1)"),
            ),
        ),
        Mistake(
            "drops_prompt",
            "your generate_with_cache returns only the new tokens; return the prompt followed by them, (B, T + n)",
            variant(_CACHED, ("\n    return ids\n", "\n    return ids[:, idx.shape[1]:]\n")),
        ),
        Mistake(
            "prepends_tokens",
            "your generate_with_cache puts each new token in front of the sequence; append it at the end, "
            "torch.cat([ids, next_tok], dim=1)",
            variant(_CACHED, ("torch.cat([ids, next_tok], dim=1)", "torch.cat([next_tok, ids], dim=1)")),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 8: beam search

FLAT = (4, 64, 0.1)  # flat distributions: 45 tokens have a joint probability below float32's smallest number
FLAT_2 = (2, 50, 0.06)


def _beam_case(sub: str, spec: tuple, ids: torch.Tensor, N: int, n: int, visible: bool) -> Case:
    expected = _hf_generate(
        tiny_model(*spec), ids, num_beams=N, do_sample=False, early_stopping=False, max_new_tokens=n, eos_token_id=None
    )
    label = f"prompts {tuple(ids.shape)}, num_beams={N}, max_new_tokens={n}, {_model_label(spec)}"
    return Case(
        sub, {"model": spec, "ids": ids, "num_beams": N, "max_new_tokens": n}, to_plain(expected), label, visible
    )


@functools.lru_cache(maxsize=2)
@one_thread()
def _beam_cases(hidden: bool) -> list[Case]:
    P, Q = _prompts(4, 5, 50, 1), _prompts(3, 7, 64, 2)
    cases = [
        _beam_case("best", PEAKED, P[2:3], 4, 10, True),
        _beam_case("best", OTHER, Q[:1], 3, 10, True),
        _beam_case("long", FLAT, _prompts(1, 4, 64, 4), 2, 45, True),
        _beam_case("long", FLAT_2, _prompts(1, 4, 50, 2), 2, 40, True),
        _beam_case("batch", PEAKED, P[:3], 3, 6, True),
        _beam_case("batch", OTHER, Q, 3, 8, True),
    ]
    if hidden:
        cases += [
            _beam_case("best", PEAKED, P[:1], 2, 8, False),
            _beam_case("best", PEAKED, P[1:2], 3, 6, False),
            _beam_case("best", PEAKED, P[3:4], 2, 12, False),
            _beam_case("best", OTHER, Q[1:2], 1, 8, False),
            _beam_case(
                "long", FLAT, _prompts(2, 4, 64, 4)[1:], 2, 45, False
            ),  # one prompt: batches are the batch requirement's
            _beam_case("batch", PEAKED, P, 2, 10, False),
            _beam_case("batch", OTHER, Q[:2], 2, 12, False),
        ]
    return cases


_BEAM = """import torch
from llmcourse.models import logits_fn

def beam_search(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0):
    logits_of = logits_fn(model)
    best = []
    for prompt in input_ids:  # each prompt on its own
        beams = prompt[None, :]  # (1, T): a single beam to start with
        scores = torch.zeros(1)  # the sum of the log-probs of each beam's tokens
        for _ in range(max_new_tokens):
            with torch.no_grad():
                logits = logits_of(beams)[:, -1, :].float()  # (beams, V)
            log_probs = torch.log_softmax(logits, dim=-1)  # (beams, V)
            totals = scores[:, None] + log_probs  # (beams, V)
            V = totals.shape[1]
            scores, idx = totals.flatten().topk(num_beams)
            beams = torch.cat([beams[idx // V], (idx % V)[:, None]], dim=1)
        best.append(beams[0])
    return torch.stack(best)
"""

BEAM = Exercise(
    name="beam_search",
    cell="beam_search",
    test_cell="beam_search_tests",
    points=3,
    subchecks=(
        SubCheck(
            "best",
            1.5,
            "returns the prompt and the beam with the highest sum of log-probabilities after max_new_tokens steps, "
            "as generate(num_beams=N, do_sample=False)",
        ),
        SubCheck(
            "long",
            0.5,
            "long outputs (40 or more tokens of a flat distribution, whose joint probability underflows float32): "
            "the best beam, scored by sums of log-probabilities",
        ),
        SubCheck(
            "batch",
            1.0,
            "a batch of prompts: each prompt searched on its own for its best beam, (B, T + max_new_tokens)",
        ),
    ),
    cases=_beam_cases,
    run=RUNNERS["beam_search"],
    compare=_ids_compare("beam_search"),
    forbidden=FORBIDDEN,
    mistakes=(
        Mistake(
            "multiplies_probabilities",
            "your beam search multiplies probabilities: after a few dozen tokens the product underflows to 0 in "
            "float32 and every beam looks alike; add log-probabilities (the beam scores are not accumulated in log "
            "space)",
            variant(
                _BEAM,
                ("scores = torch.zeros(1)", "scores = torch.ones(1)"),
                ("log_probs = torch.log_softmax(logits, dim=-1)", "probs = torch.softmax(logits, dim=-1)"),
                ("totals = scores[:, None] + log_probs", "totals = scores[:, None] * probs"),
            ),
        ),
        Mistake(
            "sums_probabilities",
            "your beam search adds probabilities; a sequence's probability is the product of its tokens' "
            "probabilities, so add their log-probabilities",
            variant(
                _BEAM,
                ("log_probs = torch.log_softmax(logits, dim=-1)", "probs = torch.softmax(logits, dim=-1)"),
                ("totals = scores[:, None] + log_probs", "totals = scores[:, None] + probs"),
            ),
        ),
        Mistake(
            "raw_logits",
            "your beam search adds up raw logits; they are not log-probabilities (each beam's logits have their own "
            "normaliser): apply log_softmax first",
            variant(_BEAM, ("totals = scores[:, None] + log_probs", "totals = scores[:, None] + logits")),
        ),
        Mistake(
            "not_accumulated",
            "your beam search ranks the candidates by the new token's log-probability alone; a beam's score is the "
            "sum over all its generated tokens",
            variant(_BEAM, ("totals = scores[:, None] + log_probs", "totals = log_probs + 0 * scores[:, None]")),
        ),
        Mistake(
            "all_beams_start_alive",
            "your beam search starts with num_beams copies of the prompt, all with score 0, so the first step picks "
            "the same tokens num_beams times; start from one beam",
            variant(
                _BEAM,
                (
                    "beams = prompt[None, :]  # (1, T): a single beam to start with",
                    "beams = prompt.repeat(num_beams, 1)",
                ),
                ("scores = torch.zeros(1)", "scores = torch.zeros(num_beams)"),
            ),
        ),
        Mistake(
            "own_best_token",
            "your beam search extends each beam with its own best token only (num_beams greedy searches side by "
            "side); all num_beams x V candidates compete for the num_beams places",
            variant(
                _BEAM,
                (
                    "            scores, idx = totals.flatten().topk(num_beams)\n",
                    (
                        "            if beams.shape[0] == 1:\n                scores, idx = "
                        "totals.flatten().topk(num_beams)\n"
                        "            else:\n                scores, tok = totals.max(dim=-1)\n"
                        "                idx = torch.arange(beams.shape[0]) * V + tok\n"
                        "                scores, order = scores.sort(descending=True)\n                idx = "
                        "idx[order]\n"
                    ),
                ),
            ),
        ),
        Mistake(
            "drops_prompt",
            "your beam search returns only the new tokens; return the prompt followed by them, (B, T + max_new_tokens)",
            variant(_BEAM, ("        best.append(beams[0])\n", "        best.append(beams[0, len(prompt):])\n")),
        ),
        Mistake(
            "batch_as_beams",
            "your beam search treats the prompts of a batch as the beams of one search; search each prompt on its "
            "own and return one row per prompt",
            """
import torch
from llmcourse.models import logits_fn

def beam_search(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0):
    logits_of = logits_fn(model)
    beams = input_ids
    scores = torch.zeros(len(input_ids))
    for _ in range(max_new_tokens):
        with torch.no_grad():
            log_probs = torch.log_softmax(logits_of(beams)[:, -1, :].float(), dim=-1)
        totals = scores[:, None] + log_probs
        V = totals.shape[1]
        scores, idx = totals.flatten().topk(num_beams)
        beams = torch.cat([beams[idx // V], (idx % V)[:, None]], dim=1)
    return beams[:1]
""",
        ),
        Mistake(
            "returns_last_beam",
            "your beam search returns the last of the num_beams beams, the worst; topk sorts the best first: return "
            "beams[0]",
            variant(_BEAM, ("        best.append(beams[0])\n", "        best.append(beams[-1])\n")),
        ),
        Mistake(
            "beam_and_token_swapped",
            "your beam search reads a flat candidate index i as beam i % V and token i // V; it is beam i // V, "
            "extended by token i % V",
            variant(
                _BEAM,
                (
                    "beams = torch.cat([beams[idx // V], (idx % V)[:, None]], dim=1)",
                    "beams = torch.cat([beams[idx % V], (idx // V)[:, None]], dim=1)",
                ),
            ),
        ),
        Mistake(
            "log_softmax_over_beams",
            "your beam search takes the log_softmax over the beams (dim=0); each beam's next-token distribution is a "
            "softmax over the vocabulary (dim=-1)",
            variant(
                _BEAM, ("log_probs = torch.log_softmax(logits, dim=-1)", "log_probs = torch.log_softmax(logits, dim=0)")
            ),
        ),
        Mistake(
            "returns_all_beams",
            "your beam search returns all num_beams beams; return only the best one for each prompt, (B, T + "
            "max_new_tokens)",
            variant(_BEAM, ("        best.append(beams[0])\n", "        best.append(beams)\n")),
        ),
        Mistake(
            "ignores_parent_beam",
            "your beam search appends the chosen tokens to the beams in their old order; a candidate extends the "
            "beam it came from: reorder the beams by i // V before appending",
            variant(
                _BEAM,
                (
                    "beams = torch.cat([beams[idx // V], (idx % V)[:, None]], dim=1)",
                    "beams = torch.cat([beams.expand(num_beams, -1), (idx % V)[:, None]], dim=1)",
                ),
            ),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 9: stop strings

ANNA = "Anna: Hi, Ben!\nBen:"
HANA = "Hana: I have to go now. Goodbye, Hugo!\nHugo: Goodbye,"
QUESTION = "Question: What is 3 plus 4?\nAnswer:"
DIARY = "Dear diary,\nOn Friday, I gently walked next to the library.\nYour"
TOM = "Tom: What did you do today?\nMia:"


def streamed_until(tokenizer, new_tokens: list[int], stops: list[str]) -> str:
    """What generate_until must return, given the tokens the model produces one by one."""
    for n in range(1, len(new_tokens) + 1):
        if new_tokens[n - 1] == tokenizer.eos_token_id:
            return tokenizer.decode(new_tokens[: n - 1])
        text = tokenizer.decode(new_tokens[:n])
        found = [text.find(s) for s in stops if s in text]
        if found:
            return text[: min(found)]
    return tokenizer.decode(new_tokens)


def _until_case(sub: str, prompt: str, stop, n: int, sampler: tuple | None, visible: bool) -> Case:
    model, tok = course_model()
    ids = tok(prompt, return_tensors="pt").input_ids
    kwargs = {"max_new_tokens": n, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.eos_token_id}
    if sampler is None:
        out = _hf_generate(model, ids, do_sample=False, **kwargs)
    else:
        seed, temperature = sampler
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out = _hf_generate(model, ids, do_sample=True, temperature=temperature, top_k=None, top_p=None, **kwargs)
    stops = [stop] if isinstance(stop, str) else list(stop)
    expected = streamed_until(tok, out[0, ids.shape[1] :].tolist(), stops)
    label = f"prompt {prompt!r}, stop {stop!r}, max_new_tokens={n}"
    if sampler is not None:
        label += f", next_token=a sampler (seed {sampler[0]}, temperature {sampler[1]})"
    inputs = {"prompt": prompt, "stop": stop, "max_new_tokens": n, "sampler": sampler}
    return Case(sub, inputs, expected, label, visible)


@functools.lru_cache(maxsize=2)
@one_thread()
def _until_cases(hidden: bool) -> list[Case]:
    cases = [
        _until_case("stop", ANNA, "\nAnna:", 40, None, True),  # three tokens: "\n", "Anna", ":"
        _until_case("stop", ANNA, "Ben:", 40, None, True),  # in the prompt too: only the generated text counts
        _until_case("mid_token", ANNA, "nna:", 40, None, True),  # starts inside the token "Anna"
        _until_case("mid_token", ANNA, "Anna! H", 40, None, True),  # ends inside the token " How"
        _until_case(
            "several", ANNA, ["nn", "Anna"], 40, None, True
        ),  # both complete with one token: cut at the earlier
        _until_case("several", ANNA, ["nna", "An"], 40, None, True),
        _until_case("several", ANNA, ["zebra", "\nAnna:"], 40, None, True),  # one of them never occurs
        _until_case("limits", ANNA, "zebra", 12, None, True),  # never found: max_new_tokens
        _until_case("limits", HANA, "zebra", 30, None, True),  # the end-of-text token comes first
        _until_case("next_token", ANNA, ["\nAnna:", "\nBen:"], 40, (5, 1.5), True),
    ]
    if hidden:
        cases += [
            _until_case("stop", QUESTION, "\n\nQuestion:", 40, None, False),
            _until_case("stop", TOM, "\nMia:", 40, None, False),  # in the prompt too
            _until_case("mid_token", ANNA, "ow are", 40, None, False),
            _until_case("mid_token", HANA, "a! S", 30, None, False),
            _until_case("several", ANNA, ["yesterday", "\nAnna:"], 40, None, False),
            _until_case("several", ANNA, ["thank", "fine"], 40, None, False),
            _until_case("limits", QUESTION, "zebra", 5, None, False),
            _until_case("limits", DIARY, "zebra", 30, None, False),  # the end-of-text token comes first
            # next_token: as the visible case, a list of stop strings, and the sampled text reaches
            # max_new_tokens before any of them or the end-of-text token (greedy decoding would stop early)
            _until_case("next_token", ANNA, ["\nAnna:", "\nBen:"], 30, (1, 0.8), False),
            _until_case("next_token", TOM, ["\nTom:"], 30, (3, 1.2), False),
        ]
    return cases


@_robust
def _until_compare(case: Case, got: Any, expected: Any) -> None:
    if not isinstance(got, str):
        raise GradingError(f"generate_until for {case.label}: expected a str, got {kind_of(got)}")
    if got != expected:
        raise GradingError(f"generate_until for {case.label}:\n  expected {expected!r}\n  got      {got!r}")


_UNTIL = """import torch
from llmcourse.models import logits_fn

def generate_until(model, tokenizer, prompt, stop, max_new_tokens, next_token=None):
    stops = [stop] if isinstance(stop, str) else list(stop)
    logits_of = logits_fn(model)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    n_prompt = ids.shape[1]
    text = ""
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = logits_of(ids)[:, -1, :]
        tok = logits.argmax(dim=-1) if next_token is None else next_token(logits, ids)
        if tok.item() == tokenizer.eos_token_id:
            break
        ids = torch.cat([ids, tok.view(1, 1)], dim=1)
        text = tokenizer.decode(ids[0, n_prompt:])
        hits = [text.index(s) for s in stops if s in text]
        if hits:
            return text[: min(hits)]
    return text
"""
_UNTIL_SEARCH = (
    "        hits = [text.index(s) for s in stops if s in text]\n"
    "        if hits:\n"
    "            return text[: min(hits)]\n"
)

UNTIL = Exercise(
    name="generate_until",
    cell="generate_until",
    test_cell="generate_until_tests",
    points=3,
    subchecks=(
        SubCheck(
            "stop",
            1.0,
            "returns the generated text before the first stop string, found across tokens and only in the generated "
            "text (not the prompt)",
        ),
        SubCheck("mid_token", 0.5, "a stop string that starts or ends inside a token"),
        SubCheck("several", 0.5, "a list of stop strings: cut at the earliest position where any of them occurs"),
        SubCheck(
            "limits",
            0.5,
            "no stop string: the text of max_new_tokens tokens, or of the tokens before the end-of-text token",
        ),
        SubCheck("next_token", 0.5, "picks each token with next_token(logits, ids) when one is given"),
    ),
    cases=_until_cases,
    run=RUNNERS["generate_until"],
    compare=_until_compare,
    forbidden=FORBIDDEN,
    mistakes=(
        Mistake(
            "returns_stop_string",
            "your generate_until returns the stop string with the text; return the text before it",
            variant(_UNTIL, (_UNTIL_SEARCH, _UNTIL_SEARCH.replace("text.index(s) for", "text.index(s) + len(s) for"))),
        ),
        Mistake(
            "endswith_only",
            "your generate_until only checks whether the text ends with the stop string; a token can carry the end "
            "of the stop string and more text: search the whole generated text",
            variant(
                _UNTIL,
                (
                    _UNTIL_SEARCH,
                    "        for s in stops:\n            if text.endswith(s):\n                return text[: "
                    "-len(s)]\n",
                ),
            ),
        ),
        Mistake(
            "token_level_match",
            "your generate_until only looks for the stop string in each new token's text, so it misses a stop string "
            "across a token boundary (or starting mid-token): search the decoded text so far",
            variant(
                _UNTIL,
                (
                    _UNTIL_SEARCH,
                    (
                        "        piece = tokenizer.decode(tok)\n        if any(s in piece for s in stops):\n"
                        "            return tokenizer.decode(ids[0, n_prompt:-1])\n"
                    ),
                ),
            ),
        ),
        Mistake(
            "searches_prompt",
            "your generate_until searches the prompt too, so a stop string in the prompt (a ReAct prompt contains "
            "'Observation:') stops it at once; search only the generated text",
            variant(
                _UNTIL,
                (
                    "        text = tokenizer.decode(ids[0, n_prompt:])\n" + _UNTIL_SEARCH,
                    (
                        "        full = tokenizer.decode(ids[0])\n        text = full[len(prompt):]\n"
                        "        hits = [full.index(s) for s in stops if s in full]\n        if hits:\n"
                        "            return full[len(prompt) : max(min(hits), len(prompt))]\n"
                    ),
                ),
            ),
        ),
        Mistake(
            "returns_prompt",
            "your generate_until returns the prompt with the generated text; return only the generated text",
            variant(
                _UNTIL,
                ("            return text[: min(hits)]\n", "            return prompt + text[: min(hits)]\n"),
                ("    return text\n", "    return prompt + text\n"),
            ),
        ),
        Mistake(
            "string_as_characters",
            "your generate_until turns a single stop string into a list of its characters (list(stop)), so it stops "
            "at any of them; wrap a string in a list: [stop]",
            variant(_UNTIL, ("stops = [stop] if isinstance(stop, str) else list(stop)", "stops = list(stop)")),
        ),
        Mistake(
            "first_listed_not_earliest",
            "your generate_until cuts at the first stop string of the list that occurs, not at the earliest position "
            "in the text where any of them occurs",
            variant(
                _UNTIL,
                (
                    _UNTIL_SEARCH,
                    "        for s in stops:\n            if s in text:\n                return text[: "
                    "text.index(s)]\n",
                ),
            ),
        ),
        Mistake(
            "ignores_end_of_text",
            "your generate_until goes on after the model's end-of-text token; stop there (the text after it belongs "
            "to another document)",
            variant(_UNTIL, ("        if tok.item() == tokenizer.eos_token_id:\n            break\n", "")),
        ),
        Mistake(
            "ignores_next_token",
            "your generate_until always picks the most likely token; call next_token(logits, ids) when one is given "
            "(e.g. a sampler)",
            variant(
                _UNTIL,
                (
                    "tok = logits.argmax(dim=-1) if next_token is None else next_token(logits, ids)",
                    "tok = logits.argmax(dim=-1)",
                ),
            ),
        ),
        Mistake(
            "one_token_short",
            "your generate_until generates max_new_tokens - 1 tokens at most; the loop runs max_new_tokens times",
            variant(_UNTIL, ("for _ in range(max_new_tokens):", "for _ in range(max_new_tokens - 1):")),
        ),
        Mistake(
            "max_new_tokens_as_total_length",
            "your generate_until counts the prompt's tokens in max_new_tokens; it counts the generated tokens only",
            variant(_UNTIL, ("    for _ in range(max_new_tokens):\n", "    while ids.shape[1] < max_new_tokens:\n")),
        ),
        Mistake(
            "strips_text",
            "your generate_until strips the spaces and newlines around the text; return the generated text exactly "
            "as decoded, up to the stop string",
            variant(
                _UNTIL,
                ("            return text[: min(hits)]\n", "            return text[: min(hits)].strip()\n"),
                ("    return text\n", "    return text.strip()\n"),
            ),
        ),
        Mistake(
            "missing_stop_string_cuts",
            "your generate_until takes the smallest text.find(s) over all the stop strings, -1 for one that is "
            "absent; leave out the strings that are not found before taking the earliest position",
            variant(
                _UNTIL,
                (
                    _UNTIL_SEARCH,
                    (
                        "        first = min(text.find(s) for s in stops)\n        if first >= 0:\n            "
                        "return text[:first]\n"
                    ),
                ),
            ),
        ),
        Mistake(
            "hook_arguments_swapped",
            "your generate_until calls next_token(ids, logits); the hook takes the logits first: next_token(logits, "
            "ids)",
            variant(_UNTIL, ("next_token(logits, ids)", "next_token(ids, logits)")),
        ),
        Mistake(
            "decodes_end_of_text",
            "your generate_until appends the end-of-text token before stopping, so its text ('<|endoftext|>') is in "
            "the result; stop before appending it",
            variant(
                _UNTIL,
                (
                    "        if tok.item() == tokenizer.eos_token_id:\n            break\n        ids = "
                    "torch.cat([ids, tok.view(1, 1)], dim=1)\n        text = tokenizer.decode(ids[0, n_prompt:])\n",
                    "        ids = torch.cat([ids, tok.view(1, 1)], dim=1)\n        text = tokenizer.decode(ids[0, "
                    "n_prompt:])\n        if tok.item() == tokenizer.eos_token_id:\n            break\n",
                ),
            ),
        ),
    ),
)


EXERCISES: dict[str, Exercise] = {
    "temperature": TEMPERATURE,
    "top_k": TOP_K,
    "top_p": TOP_P,
    "repetition_penalty": REPETITION,
    "frequency_presence": PENALTIES,
    "greedy": GREEDY,
    "cached": CACHED,
    "beam_search": BEAM,
    "generate_until": UNTIL,
}


def check_apply_temperature(fn, hidden: bool = False) -> None:
    """Exercise 1, against Hugging Face's TemperatureLogitsWarper."""
    check(TEMPERATURE, fn, hidden)


def check_top_k_filter(fn, hidden: bool = False) -> None:
    """Exercise 2, against Hugging Face's TopKLogitsWarper (ties included)."""
    check(TOP_K, fn, hidden)


def check_top_p_filter(fn, hidden: bool = False) -> None:
    """Exercise 3, against Hugging Face's TopPLogitsWarper on tie-free logits."""
    check(TOP_P, fn, hidden)


def check_apply_repetition_penalty(fn, hidden: bool = False) -> None:
    """Exercise 4, against Hugging Face's RepetitionPenaltyLogitsProcessor."""
    check(REPETITION, fn, hidden)


def check_apply_frequency_presence_penalties(fn, hidden: bool = False) -> None:
    """Exercise 5, against the OpenAI API's definition written as a loop."""
    check(PENALTIES, fn, hidden)


def check_greedy_decode(fn, hidden: bool = False) -> None:
    """Exercise 6, against Hugging Face's generate(do_sample=False) on small random GPT-2 models."""
    check(GREEDY, fn, hidden)


def check_generate_with_cache(fn, hidden: bool = False) -> None:
    """Exercise 7, against Hugging Face's generate(do_sample=False, use_cache=False) and the forwards a cache needs."""
    check(CACHED, fn, hidden)


def check_beam_search(fn, hidden: bool = False) -> None:
    """Exercise 8, against Hugging Face's generate(num_beams=N, early_stopping=False, eos_token_id=None)."""
    check(BEAM, fn, hidden)


def check_generate_until(fn, hidden: bool = False) -> None:
    """Exercise 9, against the text of the tokens Hugging Face's generate produces with course-gpt."""
    check(UNTIL, fn, hidden)
