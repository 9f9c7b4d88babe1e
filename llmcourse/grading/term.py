"""One term's settings: roster, deadlines, extensions and the late-penalty rule, from one file.

``autograde/term.toml`` (optional; ``--term FILE`` picks another)::

    roster = "roster.csv"       # columns: id, name, email (relative to this file)

    [deadlines]                 # chapter id = deadline, ISO 8601 with a time zone
    "02_transformer_anatomy" = "2026-10-05T23:59:00+00:00"

    [extensions.ada]            # student id, then chapter id = extra hours
    "02_transformer_anatomy" = 48

    [late_penalty]              # percent of the score lost per started day late, capped
    percent_per_day = 10
    max_percent = 50
    marker_days = 1             # an LMS "LATE" marker with no time in the name counts as this many days

    [reports]
    missing = "zero"            # a roster student without a submission: "zero" (0) or "blank", in every report

    [similarity]                # the class report's "Similar answers" (llmcourse.grading.similarity)
    threshold = 0.8             # mean similarity of two answer cells to list the pair (0-1)
    min_tokens = 40             # shorter answers are not compared

A submission's time is the LMS's timestamp in its file name or nbgrader's ``timestamp.txt``;
without one, an LMS ``LATE`` marker counts ``marker_days`` days late (unless the student has an
extension for that chapter: the LMS judged against the deadline alone), and otherwise it is on
time. Lateness is worked out again from the stored times whenever reports are written, so a
changed ``term.toml`` applies to results already kept, without grading again.
"""

from __future__ import annotations

import csv
import math
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from llmcourse.grading.similarity import Settings as SimilaritySettings


class SettingsError(ValueError):
    """A course settings file (term.toml, overrides.toml, roster) that cannot be used as it is."""


@dataclass
class Student:
    id: str
    name: str = ""
    email: str = ""


@dataclass
class Term:
    roster: dict[str, Student] = field(default_factory=dict)
    deadlines: dict[str, datetime] = field(default_factory=dict)
    extensions: dict[str, dict[str, float]] = field(default_factory=dict)  # student -> chapter -> hours
    percent_per_day: float = 0.0
    max_percent: float = 100.0
    marker_days: int = 1
    similarity: SimilaritySettings = field(default_factory=SimilaritySettings)
    missing: str = "0"  # what every report gives a roster student without a submission: "0" or "" (blank)

    def days_late(self, student: str, chapter: str, submitted_at: datetime | None, late_marker: bool) -> int:
        """Started days after the deadline (with the student's extension); 0 when on time."""
        deadline = self.deadlines.get(chapter)
        if deadline is None:
            return 0
        extension = self.extensions.get(student, {}).get(chapter, 0)
        deadline += timedelta(hours=extension)
        if submitted_at is None:  # an LMS's LATE marker knows the deadline, not the extension
            return self.marker_days if late_marker and not extension else 0
        seconds = (submitted_at - deadline).total_seconds()
        return max(0, math.ceil(seconds / 86400))

    def penalty(self, score: float, days: int) -> float:
        """Points taken off ``score`` for ``days`` days late."""
        return score * min(self.max_percent, self.percent_per_day * days) / 100 if days else 0.0


def read_roster(path: Path) -> dict[str, Student]:
    """A CSV with a header; the id column may be called id, student, student_id or sis_id."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    students = {}
    for row in rows:
        lower = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        sid = next((lower[k] for k in ("id", "student", "student_id", "sis_id") if lower.get(k)), "")
        if not sid:
            raise SettingsError(f"{path.name}: a row without a student id: {row}")
        students[sid] = Student(sid, lower.get("name", ""), lower.get("email", ""))
    return students


def read_term(path: Path | None) -> Term:
    """The term at ``path``; an empty term (no roster, no deadlines) when there is none."""
    if path is None or not path.exists():
        return Term()
    data = tomllib.loads(path.read_text())
    term = Term()
    if "roster" in data:
        term.roster = read_roster(path.parent / data["roster"])
    for chapter, when in data.get("deadlines", {}).items():
        deadline = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
        if deadline.tzinfo is None:
            raise SettingsError(
                f"{path.name}: the deadline of {chapter} needs a time zone, e.g. {deadline.isoformat()}+00:00"
            )
        term.deadlines[chapter] = deadline
    term.extensions = {
        str(s): {c: float(h) for c, h in hours.items()} for s, hours in data.get("extensions", {}).items()
    }
    rule = data.get("late_penalty", {})
    term.percent_per_day = float(rule.get("percent_per_day", 0))
    term.max_percent = float(rule.get("max_percent", 100))
    term.marker_days = int(rule.get("marker_days", 1))
    reports = data.get("reports", {})
    missing = reports.get("missing", "zero")
    if set(reports) - {"missing"} or missing not in ("zero", "blank"):
        raise SettingsError(f'{path.name}: [reports] takes missing = "zero" or "blank", got {reports}')
    term.missing = "0" if missing == "zero" else ""
    similar = data.get("similarity", {})
    unknown = set(similar) - {"threshold", "min_tokens"}
    if unknown:
        raise SettingsError(f"{path.name}: [similarity] has unknown keys {sorted(unknown)} (threshold, min_tokens)")
    defaults = SimilaritySettings()
    term.similarity = SimilaritySettings(
        float(similar.get("threshold", defaults.threshold)), int(similar.get("min_tokens", defaults.min_tokens))
    )
    return term
