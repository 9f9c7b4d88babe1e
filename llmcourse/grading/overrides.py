"""The instructor's judgement on top of the grader's: points per exercise, comments, "excused".

``autograde/overrides.toml`` (optional; ``--overrides FILE`` picks another)::

    [[override]]                          # one entry per student and chapter
    student = "1003"
    chapter = "02_transformer_anatomy"
    comment = "Your mask convention follows the chapter's first draft: full marks for attention."
    [override.points]                     # exercise name = points (0 .. the exercise's maximum)
    scaled_dot_product_attention = 4

    [[override]]
    student = "1009"
    chapter = "02_transformer_anatomy"
    excused = true                        # no score is due: counts neither for nor against
    comment = "Excused: medical certificate of 2026-10-02."

Overrides are never written into the stored results: they are applied whenever reports are
written, so they survive every re-grade, and deleting an entry restores the grader's points.
The feedback page, grades.csv, the class report, the LMS exports and nbgrader's gradebook
(as the cell's manual score, which nbgrader adds on top of its auto score) all show them.
An entry naming an unknown chapter or exercise, or points outside the exercise's range, stops
the run with a message naming the entry: a typo must not silently keep the grader's score.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from llmcourse.grading.loading import exercises_of
from llmcourse.grading.results import SubmissionResult
from llmcourse.grading.term import SettingsError

OVERRIDE_NOTE = "instructor: "  # how an override's note starts in grades.csv and the feedback


@dataclass(frozen=True)
class Override:
    student: str
    chapter: str
    points: dict[str, float] = field(default_factory=dict)  # exercise name -> points
    comment: str = ""
    excused: bool = False


def read_overrides(path: Path | None, chapters: list[str]) -> dict[tuple[str, str], Override]:
    """The overrides at ``path`` keyed by (student, chapter); none when there is no file."""
    if path is None or not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if set(data) - {"override"}:
        raise SettingsError(
            f"{path.name}: only [[override]] entries are allowed, found {sorted(set(data) - {'override'})}"
        )
    found: dict[tuple[str, str], Override] = {}
    for number, entry in enumerate(data.get("override", []), 1):
        where = f"{path.name}, override {number}"
        unknown = set(entry) - {"student", "chapter", "points", "comment", "excused"}
        if unknown:
            raise SettingsError(f"{where}: unknown keys {sorted(unknown)} (student, chapter, points, comment, excused)")
        student, chapter = str(entry.get("student", "")), str(entry.get("chapter", ""))
        if not student or chapter not in chapters:
            raise SettingsError(
                f"{where}: needs a student and a chapter among {', '.join(chapters)}; got {student!r}, {chapter!r}"
            )
        if (student, chapter) in found:
            raise SettingsError(f"{where}: a second entry for {student}/{chapter}; put both in one")
        declared = {e.name: e for e in exercises_of(chapter).values()}
        points = {}
        for name, value in entry.get("points", {}).items():
            if name not in declared:
                raise SettingsError(
                    f"{where}: {chapter} has no exercise {name!r} (its exercises: {', '.join(declared)})"
                )
            if not isinstance(value, (int, float)) or not 0 <= value <= declared[name].points:
                raise SettingsError(f"{where}: {name} takes points from 0 to {declared[name].points:g}, got {value!r}")
            points[name] = float(value)
        excused = entry.get("excused", False)
        if not isinstance(excused, bool):
            raise SettingsError(f"{where}: excused is true or false, got {excused!r}")
        found[(student, chapter)] = Override(student, chapter, points, str(entry.get("comment", "")).strip(), excused)
    return found


def apply(result: SubmissionResult, override: Override | None) -> SubmissionResult:
    """``result`` with the instructor's override applied (in place; also returned). Call it
    before the late penalty is worked out, so lateness applies to the overridden score."""
    if override is None:
        return result
    if override.excused:
        result.status = "excused"
    for exercise in result.exercises:
        if exercise.name in override.points:
            before, exercise.points = exercise.points, override.points[exercise.name]
            result.overridden[exercise.name] = before
            exercise.messages.insert(
                0,
                f"set to {exercise.points:g}/{exercise.max_points:g} by the instructor; "
                f"the grader gave {before:g} ({exercise.status})",
            )
            exercise.status = "overridden"
    missing = set(override.points) - {e.name for e in result.exercises}
    if missing and result.status == "graded":
        result.notes.append(
            f"{OVERRIDE_NOTE}no graded exercise {', '.join(sorted(missing))}: those points are not applied"
        )
    if override.comment:
        result.notes.append(f"{OVERRIDE_NOTE}{override.comment}")
    return result
