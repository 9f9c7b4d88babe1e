"""Grading: how chapters declare their exercises, and the engine that grades them.

The contract every chapter follows
----------------------------------
The package ``llmcourse/grading/chNN/`` declares ``EXERCISES: dict[str, Exercise]``, one module
per exercise (see :mod:`llmcourse.grading.contract`, and ``README.md`` here for how to add one).
Per exercise:

- ``name``: the notebook's name of the answer; ``cell`` / ``test_cell``: the nbgrader ids of its
  solution cell and of the test cell that carries its ``points``;
- ``subchecks``: the requirements the exercise text states, ``SubCheck(id, points, requirement)``;
  the points add up to the exercise's. Every sub-check has at least one *visible* case (a test
  enforces it), so a student whose visible checks pass is not surprised by the grade; hidden
  cases add sizes, seeds and dtypes, never new requirements;
- ``cases(hidden)`` (grader side): inputs plus the expected result from an independent oracle;
  ``run(answer, inputs)`` (student side): calls the answer, its result becomes plain data;
  ``compare(case, got, expected)`` (grader side): raises :class:`GradingError` with shapes,
  dtype, the first differing index, expected and received values;
- ``depends``: names of other answers it uses, with the trusted stand-in the engine binds in their
  place (whether the student's is missing, broken or wrong);
- ``forbidden``: torch functions, aten operators, Python code and source names the answer may not
  use (scoped to the student's own calls: a model run inside an answer may use fused kernels);
- ``mistakes``: the catalogue of realistic wrong answers, one answer file each in
  ``chNN/mistakes/<exercise>/<id>.py`` (code under a docstring naming the mistake),
  used for feedback ("your weights equal softmax(QK^T) without the 1/sqrt(d) scaling") and by
  the mutation suite (``make mutants``), together with the exercise's valid alternatives,
  answers written differently that must get full marks. Those are complete correct answers, so
  they are not in this package's ``chNN/`` (what the student's notebook imports) but on the
  instructor's side, ``autograde/alternatives/chNN/<exercise>/``, read by
  :func:`llmcourse.grading.alternatives.alternatives_of`.

A notebook test cell is one line, ``grade.check_attention(scaled_dot_product_attention)``, which
runs the visible cases in the student's kernel (:func:`~llmcourse.grading.contract.check`); its
hidden part adds ``hidden=True``. Grading (:mod:`llmcourse.grading.engine`) does not run test
cells: it runs each answer in a sandboxed process and decides in its own.
"""

from llmcourse.grading.contract import Case, Exercise, Forbidden, GradingError, Mistake, SubCheck, check
from llmcourse.grading.submission import check_submission

__all__ = ["Case", "Exercise", "Forbidden", "GradingError", "Mistake", "SubCheck", "check", "check_submission"]
