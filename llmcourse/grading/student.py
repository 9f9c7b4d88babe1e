"""The student's side: running an answer on a case's inputs under the guards, and the one-line
check a notebook's test cell calls. Only inputs reach this code; the grader's engine runs
:func:`run_cases` in a sandboxed process and judges the results in its own."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any

from llmcourse.grading.declarations import Exercise, GradingError
from llmcourse.grading.guards import ForbiddenCall, Guard, swapped_globals
from llmcourse.grading.judging import Outcome, cases_of, forbidden_message, judge
from llmcourse.grading.loading import load_qualname
from llmcourse.grading.sources import names_outside_cells
from llmcourse.grading.wire import to_plain


def run_cases(
    run: Callable[[Any, Any], Any], answer: Any, inputs: Sequence[Any], guard: Callable[[], Any]
) -> list[Any]:
    """Student side: run the answer on every case's inputs with ``run`` (an exercise's runner)
    under ``guard()``; plain results.

    An exception becomes ``{"error": "TypeName: message"}``; a forbidden call propagates.
    """
    results: list[Any] = []
    for case_inputs in inputs:
        if results and isinstance(results[-1], dict) and str(results[-1].get("error", "")).startswith("MemoryError"):
            results.append(results[-1])  # out of memory once: the remaining cases would be too
            continue
        try:
            try:
                fresh = copy.deepcopy(case_inputs)  # an answer that changes its inputs in place spoils no later check
            except Exception:  # noqa: BLE001 - inputs that cannot be copied are used as they are
                fresh = case_inputs
            with guard():
                value = run(answer, fresh)
            results.append(to_plain(value))
        except ForbiddenCall:
            raise
        except MemoryError:
            results.append({"error": "MemoryError: ran out of memory"})
        except NotImplementedError:
            results.append({"error": "NotImplementedError: not implemented yet"})
        except GradingError as exc:
            results.append({"error": f"an unusable result: {exc}"})
        except BaseException as exc:  # noqa: BLE001 - anything the student's code raises is its result
            if isinstance(exc, KeyboardInterrupt):
                raise
            results.append({"error": f"{type(exc).__name__}: {str(exc)[:500]}"})
    return results


def judge_answer(exercise: Exercise, answer: Any, hidden: bool = False) -> Outcome:
    """An answer run on the visible cases (all cases with ``hidden=True``) with the forbidden
    functions guarded and the exercise's dependencies replaced by trusted stand-ins, and judged:
    what :func:`check` reports, without printing or raising."""
    start = time.perf_counter()
    cases = cases_of(exercise, hidden)
    forbidden: list[str] = []
    stand_ins = {name: load_qualname(target) for name, target in exercise.depends.items()}
    try:
        with swapped_globals(answer, stand_ins):
            results = run_cases(exercise.run, answer, [c.inputs for c in cases], lambda: Guard(exercise.forbidden))
    except ForbiddenCall as exc:
        forbidden.append(exc.name)
        results = [{"error": "a forbidden call"}] * len(cases)
    outcome = judge(exercise, cases, results, forbidden)
    outcome.seconds = time.perf_counter() - start
    return outcome


def check(exercise: Exercise, answer: Any, hidden: bool = False, quiet: bool = False) -> Outcome:
    """Check an answer in the student's own kernel (what a notebook's test cell does).

    Runs the visible cases (all cases with ``hidden=True``) with the forbidden functions guarded
    and the exercise's dependencies replaced by trusted stand-ins; prints one line per sub-check
    and raises :class:`GradingError` naming every failed requirement.
    """
    outcome = judge_answer(exercise, answer, hidden)
    kind = "all" if hidden else "visible"
    if outcome.forbidden:
        raise GradingError(forbidden_message(exercise, outcome.forbidden))
    if not quiet:
        for sub in exercise.subchecks:
            mark = "passed" if sub.id not in outcome.failures else "FAILED"
            print(f"  [{mark}] {sub.requirement} ({sub.points:g} pt)")
    if outcome.failures:
        details = "\n".join(f"- {exercise.subcheck(s).requirement}:\n  {m}" for s, m in outcome.failures.items())
        raise GradingError(
            f"{exercise.name}: {len(outcome.failures)} of {len(exercise.subchecks)} requirements not met ({kind} "
            f"checks)\n{details}"
        )
    if not quiet:
        print(f"{exercise.name}: {kind} checks passed")
        _warn_names_outside_cells(exercise)
    return outcome


def _warn_names_outside_cells(exercise: Exercise) -> None:
    """Grading runs only the set-up cells and the answer cells: say so when this answer uses a
    name that only another cell defines (it would be missing when graded)."""
    outside = names_outside_cells(exercise, set())
    if outside:
        print(
            f"WARNING: {exercise.name} uses {', '.join(outside)}, defined in another cell. Grading runs only the "
            "set-up cells and the answer cells: move it into this answer's cell, or it will be missing."
        )
