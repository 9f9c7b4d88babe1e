"""Knowledge distillation: a small student learns from a large teacher's next-token distributions (chapter 07).

*Distilling the Knowledge in a Neural Network* (Hinton, Vinyals and Dean, 2015) trains the student
on the teacher's probabilities softened by a temperature ``T``,
``softmax(teacher_logits / T)``, instead of (or besides) the one-hot "hard" labels: the teacher's
probabilities say which wrong answers are nearly right, information a one-hot label throws away.
The loss is the KL divergence from the teacher's softened distribution to the student's,
multiplied by ``T**2``: the gradients of the softened loss shrink as ``1 / T**2``, and the factor
keeps their size the same whatever the temperature (:func:`distillation_loss`).

:func:`distill` trains several students on the same batches of text, each on the hard next tokens
or on the teacher's distribution at its temperature, and records their held-out perplexity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse.finetune import _logits, random_windows


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """``T**2`` times the KL divergence KL(teacher_T || student_T) of the softened next-token
    distributions, averaged over positions. Logits ``(..., V)``; the teacher's get no gradient."""
    V = student_logits.shape[-1]
    student = F.log_softmax(student_logits.reshape(-1, V).float() / temperature, dim=-1)  # (N, V)
    teacher = F.log_softmax(teacher_logits.detach().reshape(-1, V).float() / temperature, dim=-1)  # (N, V)
    kl = F.kl_div(student, teacher, log_target=True, reduction="batchmean")  # sum over V, mean over N positions
    return temperature**2 * kl


@torch.no_grad()
def perplexity(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """exp of the mean next-token cross-entropy of ``model`` on windows ``x (B, T)`` with targets ``y (B, T)``."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits = _logits(model, x.to(device)).float()  # (B, T, V)
    model.train(was_training)
    return math.exp(F.cross_entropy(logits.flatten(0, 1), y.to(device).flatten()).item())


@dataclass
class Student:
    """A model to train, on the hard next tokens (``temperature=None``) or on the teacher's distribution."""

    model: nn.Module
    temperature: float | None = None


def distill(
    students: dict[str, Student],
    teacher: nn.Module,
    stream: torch.Tensor,
    held_out: tuple[torch.Tensor, torch.Tensor],
    *,
    steps: int = 100,
    batch_size: int = 8,
    block_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    eval_every: int = 10,
) -> dict[str, list[tuple[int, float]]]:
    """Train every student for ``steps`` AdamW steps on the same random windows of ``stream`` (the
    teacher runs once per batch); returns each one's held-out perplexity, ``[(step, perplexity)]``,
    at step 0 and every ``eval_every`` steps."""
    device = next(teacher.parameters()).device
    teacher.eval()
    optimizers = {
        name: torch.optim.AdamW(s.model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
        for name, s in students.items()
    }
    curves = {name: [(0, perplexity(s.model, *held_out))] for name, s in students.items()}
    generator = torch.Generator().manual_seed(seed)
    for step in range(1, steps + 1):
        x, y = random_windows(stream, batch_size, block_size, generator)  # (B, T), (B, T)
        x, y = x.to(device), y.to(device)
        teacher_logits = None
        if any(s.temperature is not None for s in students.values()):
            with torch.no_grad():
                teacher_logits = _logits(teacher, x)  # (B, T, V)
        for name, s in students.items():
            s.model.train()
            logits = _logits(s.model, x)  # (B, T, V)
            if s.temperature is None:
                loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
            else:
                loss = distillation_loss(logits, teacher_logits, s.temperature)
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
            if step % eval_every == 0 or step == steps:
                curves[name].append((step, perplexity(s.model, *held_out)))
    for s in students.values():
        s.model.eval()
    return curves
