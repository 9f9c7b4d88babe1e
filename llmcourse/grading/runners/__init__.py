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


def loss_and_gradient(loss: Any, logits: torch.Tensor) -> tuple[Any, torch.Tensor | None]:
    """``(loss, d loss / d logits)``; the gradient is None when the loss is not a 0-dim tensor
    whose graph reaches the logits (an answer that detached or returned a float)."""
    usable = isinstance(loss, torch.Tensor) and loss.dim() == 0 and loss.requires_grad
    grad = torch.autograd.grad(loss, logits, allow_unused=True)[0] if usable else None
    return loss, grad
