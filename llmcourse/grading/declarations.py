"""What a chapter declares: its exercises, their requirements, cases, forbidden calls and mistakes.

The bottom layer of the grading package: it imports nothing else from it. A chapter's module
(``llmcourse/grading/chNN/``) builds ``EXERCISES: dict[str, Exercise]`` from these classes; how the
three parts of a check (cases, run, compare) fit together is told in :mod:`llmcourse.grading.contract`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class GradingError(AssertionError):
    """A graded check failed; the message is written for the student."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows under a failing test cell: the message alone, since the frames
        of the checks tell a student nothing about their code."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


@dataclass(frozen=True)
class SubCheck:
    """One requirement the exercise text states, worth part of the exercise's points."""

    id: str
    points: float
    requirement: str  # the requirement as the exercise text states it


@dataclass(frozen=True)
class Mistake:
    """A realistic wrong answer: ``code`` defines the graded name with the bug in it.

    The engine runs ``code`` on a failing case (grader side, it is the course's own code) and,
    when the student's result equals the mistake's, tells the student ``message``. The mutation
    suite (``make mutants``) grades ``code`` as a submission and requires it to lose points.
    """

    id: str
    message: str
    code: str


@dataclass(frozen=True)
class Forbidden:
    """What an answer may not call, caught in layers (see :mod:`llmcourse.grading.guards`).

    ``torch``: dotted names of torch functions (caught at the torch-function level when the
    student's own code calls them). ``aten``: substrings of aten operator names (caught at
    PyTorch's dispatcher, which also sees ``torch.ops`` and calls made inside
    ``DisableTorchFunction``). Both count whoever calls them, unless one of ``allowed_callers``
    (library entry points such as a Hugging Face model's ``forward``, for an exercise whose answer
    runs a model) is running further up the stack. ``python``: dotted names of Python functions or
    classes (the course's reference, Hugging Face helpers), caught whenever their code runs, a
    second copy of it too. ``names``: attribute and import names that must not appear in the
    answer's source (read grader side).
    """

    torch: tuple[str, ...] = ()
    aten: tuple[str, ...] = ()
    python: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    allowed_callers: tuple[str, ...] = ()  # "module:qualname" of library code that may reach forbidden torch/aten


@dataclass(frozen=True)
class Case:
    """One input of a check. ``expected`` never leaves the grader's process."""

    subcheck: str
    inputs: Any
    expected: Any  # plain data (see to_plain)
    label: str  # describes the inputs in messages, e.g. "q (2, 5, 8), k (2, 7, 8), float32"
    visible: bool = True


@dataclass(frozen=True)
class Exercise:
    """A graded exercise: the object it grades, its points and how they are earned."""

    name: str  # the notebook's name for the answer, e.g. "scaled_dot_product_attention"
    cell: str  # nbgrader grade_id of the solution cell
    test_cell: str  # nbgrader grade_id of the test cell that carries the points
    points: float
    subchecks: tuple[SubCheck, ...]
    cases: Callable[[bool], list[Case]]  # hidden=False: visible cases only
    run: Callable[[Any, Any], Any]
    compare: Callable[[Case, Any, Any], None]
    depends: Mapping[str, str] = field(default_factory=dict)  # notebook name -> "module:qualname" stand-in
    forbidden: Forbidden = Forbidden()
    mistakes: tuple[Mistake, ...] = ()
    alternatives: tuple[
        str, ...
    ] = ()  # unused: kept only because earlier releases' checks (found in git) pass it; see grading/alternatives.py

    def __post_init__(self) -> None:
        total = sum(s.points for s in self.subchecks)
        if not math.isclose(total, self.points):
            raise ValueError(f"{self.name}: sub-check points add up to {total}, not {self.points}")

    def subcheck(self, id: str) -> SubCheck:
        return next(s for s in self.subchecks if s.id == id)
