"""Judging one exercise: its cases' results against the expected values, points per requirement,
and the catalogued mistake a wrong result most likely comes from. Runs on the grader's side, and in
the student's kernel for the visible feedback of a test cell."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmcourse.grading.declarations import Case, Exercise, GradingError, Mistake
from llmcourse.grading.loading import load_qualname
from llmcourse.grading.wire import to_plain


@dataclass
class Outcome:
    """What happened to one exercise: the points of each sub-check and a message for each failure."""

    points: dict[str, float]
    failures: dict[str, str]  # sub-check id -> first failure message
    forbidden: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return 0.0 if self.forbidden else sum(self.points.values())


def judge(exercise: Exercise, cases: Sequence[Case], results: Sequence[Any], forbidden: Sequence[str] = ()) -> Outcome:
    """Grader side: compare each case's result (plain data, or ``{"error": msg}``) and score.

    A sub-check earns its points when every one of its cases passed.
    """
    failures: dict[str, str] = {}
    failing: list[tuple[Case, Any]] = []  # the first failing case of each sub-check, with its result
    for case, got in zip(cases, results, strict=True):
        if case.subcheck in failures:
            continue
        message = failure_of(exercise, case, got)
        if message is not None:
            failures[case.subcheck] = message
            failing.append((case, got))
    every = list(zip(cases, results))
    for case, got in failing:
        hint = likely_mistake(exercise, case, got, every)
        if hint:
            failures[case.subcheck] += f"\n  Likely mistake: {hint}"
    points = {s.id: (0.0 if s.id in failures else s.points) for s in exercise.subchecks}
    return Outcome(points, failures, sorted(set(forbidden)))


def failure_of(exercise: Exercise, case: Case, got: Any, expected: Any = None) -> str | None:
    """The failure message of one case, or None when it passed."""
    if isinstance(got, dict) and "error" in got:
        return f"{exercise.name} raised {got['error']} (inputs: {case.label})"
    try:
        exercise.compare(case, got, case.expected if expected is None else expected)
    except GradingError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - malformed data from the student's process is a failure, not a crash
        return f"{exercise.name} returned something the grader could not read ({type(exc).__name__}) for {case.label}"
    return None


_mistake_answers: dict[tuple[str, str], Any] = {}


def mistake_answer(exercise: Exercise, mistake: Mistake) -> Any:
    """The answer a catalogued mistake's code defines (compiled once), with the exercise's stand-ins."""
    key = (exercise.name, mistake.id)
    if key not in _mistake_answers:
        namespace: dict[str, Any] = {"__name__": f"mistake_{mistake.id}"}
        namespace.update({name: load_qualname(target) for name, target in exercise.depends.items()})
        exec(compile(mistake.code, f"<mistake {exercise.name}:{mistake.id}>", "exec"), namespace)  # noqa: S102 - course code
        _mistake_answers[key] = namespace[exercise.name]
    return _mistake_answers[key]


_mistake_results: dict[tuple[str, str, int], tuple[Case, Any]] = {}


def _mistake_result(exercise: Exercise, mistake: Mistake, case: Case) -> Any:
    """A catalogued mistake's plain result on a case, computed once (decoders run models)."""
    key = (exercise.name, mistake.id, id(case))
    if key not in _mistake_results or _mistake_results[key][0] is not case:
        value = to_plain(exercise.run(mistake_answer(exercise, mistake), copy.deepcopy(case.inputs)))
        _mistake_results[key] = (case, value)  # keeps the case alive, so its id is not reused
    return _mistake_results[key][1]


def likely_mistake(exercise: Exercise, case: Case, got: Any, results: Sequence[tuple[Case, Any]] = ()) -> str | None:
    """The message of the catalogued mistake whose result on ``case`` equals ``got`` (or which
    raises on it the very error ``got`` holds, ``{"error": "TypeName: message"}``). When several
    do, the one that agrees with the answer on most of the other cases (``results``: each case
    with the answer's result)."""
    matching = [m for m in exercise.mistakes if _agrees(exercise, m, case, got)]
    if len(matching) > 1:
        others = [(c, g) for c, g in results if c is not case]
        matching.sort(key=lambda m: -sum(_agrees(exercise, m, c, g) for c, g in others))
    return matching[0].message if matching else None


def _agrees(exercise: Exercise, mistake: Mistake, case: Case, got: Any) -> bool:
    """Whether ``mistake`` gives ``got`` on ``case`` (its result, or the very error)."""
    error = got.get("error") if isinstance(got, dict) and set(got) == {"error"} else None
    try:
        theirs = _mistake_result(exercise, mistake, case)
    except Exception as exc:  # noqa: BLE001 - the mistake's own error, compared as run_cases words it
        return error is not None and error == f"{type(exc).__name__}: {str(exc)[:500]}"
    try:
        return error is None and failure_of(exercise, case, got, expected=theirs) is None
    except Exception:  # noqa: BLE001 - a result that cannot be compared tells nothing
        return False


_case_cache: dict[tuple[int, bool], list[Case]] = {}


def cases_of(exercise: Exercise, hidden: bool) -> list[Case]:
    """The exercise's cases, built once per process (oracles can be slow: models, sacrebleu)."""
    key = (id(exercise), hidden)
    if key not in _case_cache:
        _case_cache[key] = exercise.cases(hidden)
    return _case_cache[key]


def forbidden_message(exercise: Exercise, names: Sequence[str]) -> str:
    return (
        f"{exercise.name} must be written by you, but your code used {', '.join(sorted(set(names)))}. "
        "Write it yourself from basic operations instead."
    )
