"""Student-side runners of chapter 04 (evaluating LLMs): see :mod:`llmcourse.grading.runners`."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import torch
from transformers import GPT2LMHeadModel

from llmcourse.grading.runners import TINY_GPT2 as _TINY
from llmcourse.grading.runners import one_thread, tiny_gpt2

# Earlier releases' checks (loaded from git) import this name from here.
_one_thread = one_thread

# The tiny models of the cases: the runners' tiny GPT-2 (a vocabulary of 50) with wide initial
# weights, so that token probabilities vary (a mistake then changes the result by far more than
# rounding), and token 0 as its begin and end of text.
TINY_GPT2: dict[str, Any] = _TINY | dict(initializer_range=0.2, bos_token_id=0, eos_token_id=0)

_RAISED = {"raised": "ValueError"}  # what run returns when the answer raised ValueError where it should


def tiny_model(state: bytes | None = None, seed: int = 0) -> GPT2LMHeadModel:
    """A small random ``GPT2LMHeadModel`` (seeded), or one with the weights ``state`` (a saved
    ``state_dict`` as bytes, what the cases carry); the global random state is left as it was."""
    model = tiny_gpt2(seed, **TINY_GPT2)
    if state is not None:
        model.load_state_dict(torch.load(io.BytesIO(state), weights_only=True))
    return model


def run_perplexity(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``perplexity(logits, input_ids[, attention_mask])`` on copies: logits (B, T, V), ids (B, T)."""
    logits, input_ids, mask = inputs
    if mask is None:  # attention_mask is optional
        return fn(logits.clone(), input_ids.clone())
    return fn(logits.clone(), input_ids.clone(), mask.clone())


def run_sliding_window_perplexity(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """``sliding_window_perplexity(model, input_ids, max_length, stride)`` on the case's tiny model,
    or on a plain function ids (B, T) -> logits (B, T, V) wrapping it (kind "function")."""
    model: Callable[..., Any] = tiny_model(inputs["state"])
    if inputs["kind"] == "function":
        hf_model = model

        def model(ids):  # any callable logits_fn accepts
            return hf_model(ids).logits

    with one_thread():
        return fn(model, inputs["input_ids"].clone(), inputs["max_length"], inputs["stride"])


def run_bleu(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``bleu(hypotheses, references)``; where it should raise ValueError, ``_RAISED`` if it did."""
    hypotheses, references, should_raise = inputs
    hypotheses, references = list(hypotheses), [list(r) for r in references]
    if not should_raise:
        return fn(hypotheses, references)
    try:
        return fn(hypotheses, references)
    except ValueError:
        return dict(_RAISED)


def run_rouge_n(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``rouge_n(prediction, reference, n)``."""
    prediction, reference, n = inputs
    return fn(prediction, reference, n)


def run_rouge_l(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``rouge_l(prediction, reference)`` (the cases' n is not used)."""
    prediction, reference, _ = inputs
    return fn(prediction, reference)


def run_score_choices(fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """``score_choices(logits_fn, context_ids, choice_ids)`` with the case's tiny model as a plain function
    ids (B, T) -> logits (B, T, V) and the token ids as lists of ints."""
    model = tiny_model(inputs["state"])

    def logits_fn(ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            raise TypeError(
                "logits_fn takes a LongTensor of token ids of shape (B, T), got "
                f"{getattr(ids, 'shape', type(ids).__name__)}"
                f"{', ' + str(ids.dtype) if isinstance(ids, torch.Tensor) else ''}"
            )
        with torch.no_grad():
            return model(ids).logits  # (B, T, V)

    with one_thread():
        return fn(logits_fn, list(inputs["context"]), [list(choice) for choice in inputs["choices"]])


def run_accuracy(fn: Callable[..., Any], items: list) -> Any:
    """``accuracy(items)``, each item ``(loglikelihoods, choices, gold)`` with lists of floats and strings."""
    return fn([(list(scores), list(choices), gold) for scores, choices, gold in items])


RUNNERS: dict[str, Callable] = {
    "perplexity": run_perplexity,
    "sliding_window": run_sliding_window_perplexity,
    "bleu": run_bleu,
    "rouge_n": run_rouge_n,
    "rouge_l": run_rouge_l,
    "score_choices": run_score_choices,
    "accuracy": run_accuracy,
}
