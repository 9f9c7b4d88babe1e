"""Report: grades.csv, a feedback page and a full log per submission, and nbgrader's gradebook.

Everything a student's code produced (messages, output) is escaped before it goes into HTML.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path

from llmcourse.grading.loading import exercises_of
from llmcourse.grading.results import SubmissionResult

STATUS_WORDS = {
    "passed": "passed",
    "failed": "failed",
    "timeout": "timed out",
    "oom": "ran out of memory",
    "died": "the process died",
    "forbidden": "forbidden call",
    "missing": "not defined",
    "error": "could not be graded",
    "overridden": "set by the instructor",
}


def notes_of(result: SubmissionResult) -> list[str]:
    """What happened, per exercise, then the submission's own notes (repairs, network)."""
    lines = [e.summary() for e in result.exercises]
    for e in result.exercises:
        lines += [f"{e.name}: {error}" for error in e.cell_errors]
        if "[output trimmed by the grader]" in e.output:
            lines.append(f"{e.name}: output trimmed")
    return lines + result.notes + [f"needs review: {line}" for line in result.review]


def score_cell(r: SubmissionResult | None, missing: str, excused: str = "") -> str:
    """A grade cell: the score, ``missing`` when there is no submission, ``excused`` when the
    instructor excused it, blank when it could not be graded."""
    if r is not None and r.status == "excused":
        return excused
    if r is None or r.status == "missing":
        return missing
    return "" if r.score is None else f"{r.score:g}"


def write_csv(results: list[SubmissionResult], path: Path, roster: dict | None = None, missing: str = "0") -> None:
    """One row per student and chapter: score (after any late penalty; ``missing`` for a roster
    student without a submission), per-exercise points, status (graded, error, missing) and
    notes; name and email from the roster when there is one."""
    roster = roster or {}
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["student", "name", "email", "chapter", "score", "max_score", "late_penalty", "status", "details", "notes"]
        )
        for r in results:
            person = roster.get(r.student)
            max_score = f"{r.max_score:g}" if r.exercises else ""
            writer.writerow(
                [
                    r.student,
                    person.name if person else "",
                    person.email if person else "",
                    r.chapter,
                    score_cell(r, missing),
                    max_score,
                    f"{r.late_penalty:g}",
                    r.status,
                    r.details,
                    " | ".join(notes_of(r)),
                ]
            )


def log_text(result: SubmissionResult) -> str:
    """The full log of one submission: every message, cell error and the captured output."""
    lines = [f"student: {result.student}", f"chapter: {result.chapter}", f"status: {result.status}"]
    if result.score is not None:
        lines.append(f"score: {result.score:g} / {result.max_score:g}")
    lines += [f"note: {n}" for n in result.notes]
    for e in result.exercises:
        lines += [
            "",
            f"== {e.name} ({e.test_cell}): {e.points:g}/{e.max_points:g}, {STATUS_WORDS.get(e.status, e.status)}, "
            f"{e.seconds:.2f} s",
        ]
        lines += [f"  sub-check {sid}: {pts:g}" for sid, pts in e.subchecks.items()]
        lines += [f"  cell error: {c}" for c in e.cell_errors]
        lines += ["  " + m.replace("\n", "\n  ") for m in e.messages]
        if e.output:
            lines += ["  -- output --", "  " + e.output.rstrip().replace("\n", "\n  ")]
    return "\n".join(lines) + "\n"


def feedback_html(result: SubmissionResult, answers: dict[str, str] | None = None) -> str:
    """A self-contained page for the student: score, then each exercise's requirements.

    With ``answers`` (solution cell grade_id -> the student's source) it is the instructor's
    page of the submission: each exercise shows the answer above its feedback, and the page ends
    with what needs review."""
    esc = html.escape
    title = "Submission" if answers is not None else "Feedback"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{title}: {esc(result.chapter)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .6em;text-align:left}"
        ".ok{color:#186a3b}.bad{color:#a93226}pre{background:#f4f4f4;padding:.6em;white-space:pre-wrap}"
        "pre.answer{background:#eef3fa;border-left:3px solid #3572a5}</style></head><body>",
        f"<h1>{esc(result.chapter)}: {esc(result.student)}</h1>",
    ]
    if result.status == "excused":
        parts += ["<p><b>Excused</b>: no score is due.</p>"] + [f"<p>Note: {esc(n)}</p>" for n in result.notes]
        return "".join(parts) + "</body></html>"
    if result.status != "graded":
        parts.append(
            f"<p class='bad'>This submission could not be graded: {esc('; '.join(result.notes))}</p></body></html>"
        )
        return "".join(parts)
    parts.append(f"<p><b>Score: {result.score:g} / {result.max_score:g}</b></p>")
    parts += [f"<p>Note: {esc(n)}</p>" for n in result.notes]
    exercises = {e.name: e for e in exercises_of(result.chapter, result.checks or None).values()}
    for e in result.exercises:
        cls = "ok" if e.status == "passed" or e.points == e.max_points else "bad"
        parts.append(
            f"<h2 id='{esc(e.name)}'>{esc(e.name)}: {e.points:g} / {e.max_points:g} "
            f"<span class='{cls}'>({esc(STATUS_WORDS.get(e.status, e.status))})</span></h2>"
        )
        declared = exercises.get(e.name)
        if answers is not None and declared is not None:
            parts.append(f"<pre class='answer'>{esc(answers.get(declared.cell, '(no answer cell)'))}</pre>")
        if declared is not None:
            parts.append("<table><tr><th></th><th>requirement</th><th>points</th></tr>")
            for sub in declared.subchecks:
                got = e.subchecks.get(sub.id, 0.0)
                mark = "<span class='ok'>✓</span>" if got == sub.points else "<span class='bad'>✗</span>"
                parts.append(
                    f"<tr><td>{mark}</td><td>{esc(sub.requirement)}</td><td>{got:g} / {sub.points:g}</td></tr>"
                )
            parts.append("</table>")
        parts += [f"<pre>{esc(m)}</pre>" for m in e.messages]
        parts += [f"<p class='bad'>Cell error: {esc(c)}</p>" for c in e.cell_errors]
    if answers is not None and result.review:
        parts.append("<h2>Needs review</h2><ul>" + "".join(f"<li>{esc(line)}</li>" for line in result.review) + "</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def write_feedback(result: SubmissionResult, root: Path) -> Path:
    """``root/feedback/<student>/<chapter>/``: ``<chapter>.html`` and ``grading.log``."""
    folder = root / "feedback" / result.student / result.chapter
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{result.chapter}.html").write_text(feedback_html(result), encoding="utf-8")
    (folder / "grading.log").write_text(log_text(result), encoding="utf-8")
    return folder


def record_in_gradebook(db_url: str, results: list[SubmissionResult], attempts: int = 6) -> None:
    """Put the scores in nbgrader's gradebook (one submission per student and chapter, the
    engine's points as each test cell's auto score, an instructor's override as its manual
    score, the late penalty as the notebook's), so ``nbgrader export`` and formgrader give what
    ``grades.csv`` gives. An excused submission is removed (nbgrader has no "excused"). A
    submission already recorded with the same scores and penalty is left as it is.

    Each submission is one transaction, retried when another grader wrote the same rows at the
    same moment (PostgreSQL with several graders), so no grade is lost.
    """
    import random
    import time
    import warnings

    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush warnings from nbgrader's own add_submission
        for r in results:
            if r.status not in ("graded", "excused") or _recorded(gb, r):
                continue
            for attempt in range(attempts):
                try:
                    gb.update_or_create_student(r.student)
                    try:
                        gb.remove_submission(r.chapter, r.student)
                    except MissingEntry:
                        pass
                    if r.status == "graded":
                        gb.add_submission(r.chapter, r.student)
                        for e in r.exercises:
                            grade = gb.find_grade(e.test_cell, r.chapter, r.chapter, r.student)
                            grade.auto_score, grade.manual_score = _cell_scores(r, e)
                        gb.find_submission_notebook(
                            r.chapter, r.chapter, r.student
                        ).late_submission_penalty = r.late_penalty
                    gb.db.commit()
                    break
                except Exception:  # noqa: BLE001 - a concurrent writer: roll back and try again
                    gb.db.rollback()
                    if attempt == attempts - 1:
                        raise
                    time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))


def _cell_scores(r: SubmissionResult, e) -> tuple[float, float | None]:
    """(auto score, manual score) of an exercise's test cell: the grader's points, and the
    instructor's override when there is one (nbgrader's score is then the manual one)."""
    if e.name in r.overridden:
        return r.overridden[e.name], e.points
    return e.points, None


def _recorded(gb, r: SubmissionResult) -> bool:
    """Whether the gradebook already holds ``r`` as it is: its scores, overrides and late
    penalty; for an excused submission, no submission at all."""
    from nbgrader.api import MissingEntry

    try:
        notebook = gb.find_submission_notebook(r.chapter, r.chapter, r.student)
        cells = {e.test_cell: gb.find_grade(e.test_cell, r.chapter, r.chapter, r.student) for e in r.exercises}
    except MissingEntry:
        return r.status == "excused"
    if r.status == "excused":
        return False
    scores = {cell: (grade.auto_score, grade.manual_score) for cell, grade in cells.items()}
    return (notebook.late_submission_penalty or 0.0) == r.late_penalty and scores == {
        e.test_cell: _cell_scores(r, e) for e in r.exercises
    }
