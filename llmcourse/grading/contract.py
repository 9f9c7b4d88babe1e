"""How a chapter declares its graded exercises, and how one exercise is checked.

A chapter's package (``llmcourse/grading/chNN/``) builds ``EXERCISES: dict[str, Exercise]``.
Everything the grading engine needs is in that structure; nothing else is looked up.

A check has three parts, so that the student's code can run in a process of its own:

1. ``Exercise.cases(hidden)`` (grader side): the inputs of every case and the expected result,
   computed by an independent oracle (PyTorch, Hugging Face, ...). Only the *inputs* are ever
   handed to the student's process.
2. ``Exercise.run(answer, inputs)`` (student side): calls the student's function or class on the
   inputs. Its return value is turned into plain data by :func:`to_plain` (numbers, strings,
   arrays as bytes) before it leaves the student's process.
3. ``Exercise.compare(case, got, expected)`` (grader side): raises :class:`GradingError` with a
   message for the student when ``got`` (plain data) is wrong.

In the student's own kernel, :func:`check` runs all three parts in one process (visible feedback);
the engine (:mod:`llmcourse.grading.engine`) runs part 2 in a sandboxed child process.

This module gathers the names chapters and notebooks import; the code lives in layers, each of
which imports only the layers below it (``tests/test_grading_layers.py`` holds them to it):

1. :mod:`~llmcourse.grading.declarations`: ``Exercise``, ``SubCheck``, ``Case``, ``Mistake``,
   ``Forbidden``, ``GradingError``;
2. :mod:`~llmcourse.grading.loading`: checks modules and ``"module:qualname"`` targets;
3. :mod:`~llmcourse.grading.wire`: plain data across the process boundary, and comparisons on it;
4. :mod:`~llmcourse.grading.judging`: results -> points per requirement, likely mistakes;
5. :mod:`~llmcourse.grading.guards`: forbidden calls caught while an answer runs;
6. :mod:`~llmcourse.grading.sources` and :mod:`~llmcourse.grading.student`: the student's side,
   :func:`run_cases` and the test cells' :func:`check`;
7. this module, then :mod:`~llmcourse.grading.submission` (``check_submission()``) and the
   chapters' checks; the grader's side (intake, sandbox, engine, results, reports) sits above.
"""

from __future__ import annotations

from llmcourse.grading.declarations import Case, Exercise, Forbidden, GradingError, Mistake, SubCheck
from llmcourse.grading.judging import (
    Outcome,
    cases_of,
    failure_of,
    forbidden_message,
    judge,
    likely_mistake,
    mistake_answer,
)
from llmcourse.grading.loading import load_checks, load_qualname
from llmcourse.grading.student import check, run_cases
from llmcourse.grading.wire import (
    array_of,
    expect_float,
    expect_tensor,
    float_of,
    how_values_differ,
    items_of,
    kind_of,
    to_plain,
    values_of,
)

__all__ = [
    "Case",
    "Exercise",
    "Forbidden",
    "GradingError",
    "Mistake",
    "Outcome",
    "SubCheck",
    "array_of",
    "cases_of",
    "check",
    "expect_float",
    "expect_tensor",
    "failure_of",
    "float_of",
    "forbidden_message",
    "how_values_differ",
    "items_of",
    "judge",
    "kind_of",
    "likely_mistake",
    "load_checks",
    "load_qualname",
    "mistake_answer",
    "run_cases",
    "to_plain",
    "values_of",
]
