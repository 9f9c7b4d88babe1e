"""Student-side runners of chapter 05 (controlling LLM outputs): see :mod:`llmcourse.grading.runners`.

The decoders run on models rebuilt here from what a case carries: a small random GPT-2 from its
seed and sizes (:func:`tiny_model`), the course's ``course-gpt`` by name (:func:`course_model`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from transformers import GPT2LMHeadModel, PreTrainedModel

from llmcourse.grading.runners import one_thread, tiny_gpt2

# Earlier releases' checks (loaded from their git tag) import this name from here.
_on_one_thread = one_thread()

# ---------------------------------------------------------------- the models the decoders run


@functools.cache
def tiny_model(seed: int = 0, vocab_size: int = 50, initializer_range: float = 0.3) -> GPT2LMHeadModel:
    """The runners' tiny GPT-2 (2 layers, 32 wide), the same for the same arguments in every process.

    A large ``initializer_range`` makes its next-token distributions peaked (greedy and beam
    search differ), a small one makes them flat (long outputs have tiny probabilities). No end
    token of its own.
    """
    return tiny_gpt2(
        seed,
        vocab_size=vocab_size,
        initializer_range=initializer_range,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )


@functools.cache
def tiny_course_gpt(seed: int = 0, vocab_size: int = 50, initializer_range: float = 0.3):
    """:func:`tiny_model`'s weights in the course's own GPT (:class:`llmcourse.gpt.GPT`, whose forward
    returns a tuple ``(logits, loss)``, not an object with ``.logits``)."""
    from llmcourse import gpt

    return gpt.from_hf(tiny_model(seed, vocab_size, initializer_range)).eval()


@functools.lru_cache(maxsize=1)
def course_model():
    """``course-gpt`` and its tokenizer, on the CPU (loaded once per process)."""
    from transformers.utils import logging as hf_logging

    from llmcourse import models

    hf_logging.disable_progress_bar()
    try:
        return models.load("course-gpt", device="cpu")
    finally:
        hf_logging.enable_progress_bar()


def seeded_sampler(seed: int, temperature: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A ``next_token(logits, ids)`` hook drawing from softmax(logits / temperature) with its own
    seeded generator (what ``functools.partial(llmcourse.decoding.sample, ...)`` gives)."""
    generator = torch.Generator().manual_seed(seed)

    def next_token(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits.float() / temperature, dim=-1)  # (B, V)
        return torch.multinomial(probs, 1, generator=generator).view(-1)  # (B,)

    return next_token


_mistake_runs: dict[tuple[int, int], tuple[Any, Any, Any]] = {}


def _remember_mistakes(run: Callable) -> Callable:
    """Grader side, a failing answer is compared with every catalogued mistake, each run on the
    same case: remember a mistake's result per case (a mistake is the course's code, compiled
    once; a student's function is never remembered, it may read globals that change, so the
    student's process always runs it)."""

    @functools.wraps(run)
    def wrapped(fn, inputs):
        if not str(getattr(fn, "__globals__", {}).get("__name__", "")).startswith("mistake_"):
            return run(fn, inputs)
        key = (id(fn), id(inputs))
        if key not in _mistake_runs or _mistake_runs[key][0] is not fn or _mistake_runs[key][1] is not inputs:
            _mistake_runs[key] = (fn, inputs, run(fn, inputs))
        return _mistake_runs[key][2]

    return wrapped


class RecordingLM(torch.nn.Module):
    """A Hugging Face causal LM that notes, for every forward, how many tokens it was given and
    how many positions the cache it was given already held: ``calls``, a list of ``[tokens,
    cached]`` (a cache that is absent or empty counts 0). Everything else is the model's."""

    lm: PreTrainedModel

    def __init__(self, lm: PreTrainedModel) -> None:
        super().__init__()
        self.lm = lm
        self.calls: list[list[int]] = []

    @property
    def config(self):
        return self.lm.config

    @property
    def device(self) -> torch.device:
        return self.lm.device

    @property
    def dtype(self) -> torch.dtype:
        return self.lm.dtype

    def generate(self, *args, **kwargs):
        """The model's own ``generate`` (forbidden in the answers: the guard names it)."""
        return self.lm.generate(*args, **kwargs)  # type: ignore[operator]

    def forward(self, input_ids=None, past_key_values=None, **kwargs):
        tokens = int(input_ids.shape[-1]) if isinstance(input_ids, torch.Tensor) else -1
        self.calls.append([tokens, _cached_positions(past_key_values)])
        return self.lm(input_ids=input_ids, past_key_values=past_key_values, **kwargs)


def _cached_positions(past: Any) -> int:
    """The positions a cache holds: a ``Cache`` object's length, a legacy tuple's key length, 0 for none."""
    if past is None:
        return 0
    if hasattr(past, "get_seq_length"):
        return int(past.get_seq_length())
    try:
        return int(past[0][0].shape[-2])
    except (IndexError, TypeError, AttributeError):
        return -1


# ---------------------------------------------------------------- runners


def run_processor(fn: Callable[..., Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Call the answer on copies of the inputs; report the result, a ValueError, and whether the
    answer changed its input tensors in place."""
    args = [a.clone() if isinstance(a, torch.Tensor) else a for a in inputs["args"]]
    before = [a.clone() if isinstance(a, torch.Tensor) else None for a in args]
    try:
        out = fn(*args)
    except ValueError:
        return {"raised": "ValueError"}
    changed = any(b is not None and not torch.equal(a, b) for a, b in zip(args, before))
    return {"out": out, "changed": changed}


@_remember_mistakes
@one_thread()
def run_greedy_decode(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """``greedy_decode(model, ids, max_new_tokens[, eos_token_id=, pad_token_id=])`` on the case's tiny
    model, as a Hugging Face model or as the course's GPT."""
    model = (tiny_course_gpt if inputs.get("course_gpt") else tiny_model)(*inputs["model"])
    ids, n = inputs["ids"].clone(), inputs["max_new_tokens"]
    if inputs["eos"] is None:
        return fn(model, ids, n)
    return fn(model, ids, n, eos_token_id=inputs["eos"], pad_token_id=inputs["pad"])


@_remember_mistakes
@one_thread()
def run_beam_search(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """``beam_search(model, ids, num_beams, max_new_tokens)`` on the case's tiny model."""
    model = tiny_model(*inputs["model"])
    return fn(model, inputs["ids"].clone(), inputs["num_beams"], inputs["max_new_tokens"])


@_remember_mistakes
@one_thread()
def run_generate_until(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """``generate_until(model, tokenizer, prompt, stop, max_new_tokens[, next_token=])`` on
    ``course-gpt``, with a seeded sampler as ``next_token`` when the case has one."""
    model, tokenizer = course_model()
    stop = list(inputs["stop"]) if isinstance(inputs["stop"], list) else inputs["stop"]
    args = (model, tokenizer, inputs["prompt"], stop, inputs["max_new_tokens"])
    if inputs["sampler"] is None:
        return fn(*args)
    return fn(*args, next_token=seeded_sampler(*inputs["sampler"]))


@_remember_mistakes
@one_thread()
def run_generate_with_cache(fn: Callable[..., Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """``generate_with_cache(model, idx, max_new_tokens)`` on the case's tiny Hugging Face model,
    wrapped to record every forward: the ids it returns and ``calls`` (see :class:`RecordingLM`)."""
    model = RecordingLM(tiny_model(*inputs["model"]))
    out = fn(model, inputs["ids"].clone(), inputs["max_new_tokens"])
    return {"ids": out, "calls": model.calls}


RUNNERS: dict[str, Callable] = {
    "temperature": run_processor,
    "top_k": run_processor,
    "top_p": run_processor,
    "repetition_penalty": run_processor,
    "frequency_presence": run_processor,
    "greedy": run_greedy_decode,
    "cached": run_generate_with_cache,
    "beam_search": run_beam_search,
    "generate_until": run_generate_until,
}
