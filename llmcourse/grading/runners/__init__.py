"""Student-side runners: how each chapter calls an answer on a case's inputs.

``llmcourse.grading.runners.chNN`` holds the ``run`` functions of chapter NN's exercises
(``Exercise.run``, see :mod:`llmcourse.grading.contract`) and the helpers they need, such as the
small models an answer runs on. Each module ends with ``RUNNERS: dict[str, Callable]``, one entry
per key of the chapter's ``EXERCISES``; the checks module declares ``run=RUNNERS[key]``.

They run in the student's process, so they never import a checks module
(``llmcourse.grading.chNN``, with its expected values and mistake catalogue) nor an oracle
(sacrebleu, rouge_score, scikit-learn, peft): only the standard library, numpy, torch,
transformers' model classes, :mod:`llmcourse.grading.contract` and llmcourse's non-grading modules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from transformers import GPT2Config, GPT2LMHeadModel

TINY_GPT2: dict[str, Any] = dict(
    vocab_size=50,
    n_positions=64,
    n_embd=32,
    n_layer=2,
    n_head=2,
    resid_pdrop=0.0,
    embd_pdrop=0.0,
    attn_pdrop=0.0,
)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run tiny models on one thread (and put the count back): more threads do not make them
    faster, and on a busy machine they make them far slower (20x seen on 2 busy cores)."""
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads > 1:
            torch.set_num_threads(threads)


def tiny_gpt2(seed: int = 0, **config: Any) -> GPT2LMHeadModel:
    """The small random ``GPT2LMHeadModel`` the chapters' answers run on: 2 layers, 2 heads, 32 wide,
    64 positions, a vocabulary of 50 and no dropout, unless ``config`` (``GPT2Config``'s fields)
    says otherwise; its weights drawn with ``seed`` (the global random state is left as it was), in
    eval mode, the same for the same arguments in every process."""
    settings: dict[str, Any] = dict(TINY_GPT2) | config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(GPT2Config(**settings))
    model.loss_type = "ForCausalLM"  # what transformers falls back to anyway, without a warning
    return model.eval()


def loss_and_gradient(loss: Any, logits: torch.Tensor) -> tuple[Any, torch.Tensor | None]:
    """``(loss, d loss / d logits)``; the gradient is None when the loss is not a 0-dim tensor
    whose graph reaches the logits (an answer that detached or returned a float)."""
    usable = isinstance(loss, torch.Tensor) and loss.dim() == 0 and loss.requires_grad
    grad = torch.autograd.grad(loss, logits, allow_unused=True)[0] if usable else None
    return loss, grad
