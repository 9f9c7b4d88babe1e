"""``check_submission()``: the last cell of every chapter tells a student whether the notebook
is gradeable, before it is submitted (locally and in Colab)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from llmcourse.grading.declarations import Exercise, GradingError
from llmcourse.grading.sources import names_outside_cells
from llmcourse.grading.student import check

TIME_LIMIT = 30.0  # the engine's default per exercise


class Readiness:
    """What :func:`check_submission` returns: true when the notebook is ready to submit.

    The report is already printed, so in a notebook the value shows nothing more (a bare
    ``True``/``False`` under the report would only repeat it); ``bool()`` and ``==`` work.
    """

    def __init__(self, ready: bool):
        self.ready = ready

    def __bool__(self) -> bool:
        return self.ready

    def __eq__(self, other: object) -> bool:
        return bool(self) == other if isinstance(other, (bool, Readiness)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.ready)

    def __repr__(self) -> str:
        return f"Readiness(ready={self.ready})"

    def _ipython_display_(self) -> None:
        """Display nothing: the printed report says it all."""


def _caller_namespace() -> dict:
    frame = sys._getframe(2)
    return frame.f_globals


def _chapter_of(namespace: dict) -> Any:
    for value in list(namespace.values()):
        name = getattr(value, "__name__", "")
        if isinstance(name, str) and name.startswith("llmcourse.grading.ch") and hasattr(value, "EXERCISES"):
            return value
    return None


def _notebook_problems(path: Path, exercises: dict[str, Exercise]) -> list[str]:
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001
        return [f"{path.name} is not a readable notebook: {exc}"]
    ids: dict[str, int] = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid:
            ids[gid] = ids.get(gid, 0) + 1
    problems = []
    for exercise in exercises.values():
        for gid in (exercise.cell, exercise.test_cell):
            if ids.get(gid, 0) == 0:
                problems.append(
                    f"cell '{gid}' lost its nbgrader metadata (copy your answer into a fresh copy of the notebook)"
                )
            elif ids[gid] > 1:
                problems.append(f"cell '{gid}' appears {ids[gid]} times: delete the copies")
    if not any("setup" in c.metadata.get("tags", []) for c in nb.cells):
        problems.append("the set-up cells lost their 'setup' tag (the course's own set-up will be used)")
    return problems


def check_submission(notebook: str | Path | None = None) -> Readiness:
    """Print whether this notebook is ready to submit; the result is true when it is.

    Checks, for each graded exercise: the answer is defined, its visible checks pass within the
    grader's time limit, and it uses no name defined outside its own cell and the set-up cells
    (demo cells do not run while grading). With the notebook file (found in the working
    directory, or given as ``notebook``): the nbgrader metadata of every graded cell is intact.
    """
    namespace = _caller_namespace()
    module = _chapter_of(namespace)
    if module is None:
        print("check_submission: run the set-up cells first (they import the chapter's checks as `grade`).")
        return Readiness(False)
    exercises: dict[str, Exercise] = module.EXERCISES
    chapter = module.__name__.rsplit("ch", 1)[-1]
    answers = {e.name for e in exercises.values()}
    ready = True
    print(f"Chapter {chapter}: is this notebook ready to submit?")
    for exercise in exercises.values():
        answer = namespace.get(exercise.name)
        if answer is None:
            print(f"  ✗ {exercise.name}: not defined (run its cell)")
            ready = False
            continue
        start = time.perf_counter()
        try:
            check(exercise, answer, hidden=False, quiet=True)
            verdict = "visible checks pass"
        except GradingError as exc:
            verdict, ready = f"visible checks fail: {str(exc).splitlines()[0]}", False
        seconds = time.perf_counter() - start
        slow = f" (took {seconds:.1f} s: the grader stops at {TIME_LIMIT:g} s)" if seconds > TIME_LIMIT / 3 else ""
        print(
            f"  {'✓' if verdict.startswith('visible checks pass') and not slow else '✗'} {exercise.name}: "
            f"{verdict}{slow}"
        )
        ready = ready and not slow
        outside = names_outside_cells(exercise, answers)
        if outside:
            ready = False
            print(f"    ! uses {', '.join(outside)}, defined outside its cell: move it into the answer's cell")
    path = Path(notebook) if notebook else next(iter(sorted(Path.cwd().glob(f"{chapter}_*.ipynb"))), None)
    if path is not None and path.exists():
        problems = _notebook_problems(path, exercises)
        for problem in problems:
            print(f"  ✗ {problem}")
        ready = ready and not problems
        if not problems:
            print(f"  ✓ {path.name}: every graded cell is in place (save the notebook before you submit)")
    else:
        print(
            "  (notebook file not found here, e.g. in Colab: its metadata was not checked; download it with File > "
            "Download .ipynb)"
        )
    print("Ready to submit." if ready else "Not ready yet: see the ✗ lines above.")
    return Readiness(ready)
