"""Exports for learning-management systems, in the shapes they import as they are.

Written by ``make grade`` under ``autograde/`` (gradebooks) and ``autograde/export/`` (per chapter):

- ``canvas_grades.csv``: Canvas's gradebook import ("Import" in the Gradebook). Canvas needs
  ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID`` and ``Section`` first and matches rows
  by ``ID`` (the Canvas user id: a Canvas download's student id) or the SIS columns; then one
  column per assignment, headed by its name in Canvas (here the chapter id: rename the header if
  your assignment is called otherwise). An excused submission is ``EX``, Canvas's own value.
- ``moodle_grades.csv``: Moodle's course gradebook import ("Import grades / CSV file"), matched
  by ``Email address`` (from the roster), one grade and one feedback column per chapter.
- ``export/<chapter>_moodle_worksheet.csv``: the assignment's **offline grading worksheet**
  ("Upload grading worksheet"; enable "Offline grading worksheet" in the assignment's feedback
  types). Moodle's importer finds its columns by their headers (``Identifier``, ``Grade``,
  ``Last modified (grade)``, ``Feedback comments``) and each student by ``Identifier``,
  ``Participant <id>``: the participant id in the names of Moodle's "Download all
  submissions". Without a Moodle download the participant ids are unknown, so download the
  empty worksheet from Moodle and save it as ``autograde/lms/<chapter>_moodle_worksheet.csv``:
  it is then filled in instead (rows matched by participant id, else by ``Email address``
  against the roster), keeping every row and column Moodle wrote.
- ``export/<chapter>_feedback.zip``: a folder per student with the feedback page and log.
- ``export/<chapter>_canvas_feedback.zip``: Canvas's "Re-upload submissions": flat files named
  as Canvas named the download, ``<name>_<userid>_<attachmentid>_...``, which Canvas attaches as
  a comment to that submission (it reads the first two all-digit parts as user and attachment).
- ``export/<chapter>_moodle_feedback.zip``: Moodle's "Upload multiple feedback files in a zip":
  a folder per student ``<Full name>_<participant id>_assignfeedback_file_`` holding the page.

Blackboard has no bulk feedback upload; its students get the generic zip's pages.
"""

from __future__ import annotations

import csv
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from llmcourse.grading import collect
from llmcourse.grading.report import score_cell
from llmcourse.grading.results import SubmissionResult
from llmcourse.grading.term import SettingsError, Term

WORKSHEET = [
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
]
PARTICIPANT = "Participant "  # Moodle's prefix of a worksheet Identifier
EXCUSED = "EX"  # Canvas's gradebook value of an excused submission


def feedback_text(r: SubmissionResult | None) -> str:
    """One paragraph of feedback for an LMS comment column: per exercise, then the notes."""
    if r is None:
        return ""
    return "; ".join(([] if r.status == "graded" else [r.status]) + [e.summary() for e in r.exercises] + r.notes)


def gradebook_csvs(results: list[SubmissionResult], term: Term, folder: Path) -> tuple[Path, Path]:
    """Write ``canvas_grades.csv`` and ``moodle_grades.csv`` (one row per student)."""
    chapters = sorted({r.chapter for r in results})
    students = sorted({r.student for r in results} | set(term.roster))
    by_key = {(r.student, r.chapter): r for r in results}
    canvas, moodle = folder / "canvas_grades.csv", folder / "moodle_grades.csv"
    with open(canvas, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *chapters])
        writer.writerow(
            [
                "Points Possible",
                "",
                "",
                "",
                "",
                *[f"{max((r.max_score for r in results if r.chapter == c), default=0):g}" for c in chapters],
            ]
        )
        for s in students:
            person = term.roster.get(s)
            writer.writerow(
                [
                    person.name if person else s,
                    s,
                    "",
                    person.email if person else "",
                    "",
                    *[score_cell(by_key.get((s, c)), term.missing, EXCUSED) for c in chapters],
                ]
            )
    with open(moodle, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Email address", "Full name", *[col for c in chapters for col in (c, f"{c} feedback")]])
        for s in students:
            person = term.roster.get(s)
            cells = []
            for c in chapters:
                r = by_key.get((s, c))
                cells += [score_cell(r, term.missing), feedback_text(r)]
            writer.writerow([person.email if person else "", person.name if person else s, *cells])
    return canvas, moodle


def _moodle_identity(original: str) -> tuple[str, str] | None:
    """(full name, participant id) from a Moodle download's path, else None."""
    match = collect.MOODLE.match(original.split("/")[0]) if original else None
    return (match.group("name"), match.group("student")) if match else None


def _canvas_prefix(original: str) -> str | None:
    """``<name>_[LATE_]<userid>_<attachmentid>`` of a Canvas download's file name, else None."""
    match = collect.CANVAS.match(original.split("/")[-1]) if original else None
    if match is None:
        return None
    late = "LATE_" if match.group("late") else ""
    return f"{match.group('name')}_{late}{match.group('student')}_{match.group('attachment')}"


def _moment(when: datetime | None) -> str:
    """A time as Moodle's importer reads it (PHP's strtotime): ISO 8601 with its offset."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00") if when else ""


def moodle_worksheets(
    root: Path,
    results: list[SubmissionResult],
    term: Term,
    originals: dict[tuple[str, str], str],
    submitted: dict[tuple[str, str], datetime | None],
    now: datetime | None = None,
) -> list[Path]:
    """``export/<chapter>_moodle_worksheet.csv`` for every chapter with a Moodle download or a
    worksheet downloaded from Moodle (``root/lms/<chapter>_moodle_worksheet.csv``)."""
    now = now or datetime.now(UTC)
    out = root / "export"
    out.mkdir(exist_ok=True)
    by_email = {p.email.lower(): sid for sid, p in term.roster.items() if p.email}
    written = []
    for chapter in sorted({r.chapter for r in results}):
        rows = [r for r in results if r.chapter == chapter]
        by_student = {r.student: r for r in rows}
        max_score = max((r.max_score for r in rows), default=0.0)
        template = root / "lms" / f"{chapter}_moodle_worksheet.csv"
        if template.exists():
            with open(template, newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                header, lines = list(reader.fieldnames or []), list(reader)
            missing_columns = {"Identifier", "Grade", "Last modified (grade)"} - set(header)
            if missing_columns:
                raise SettingsError(
                    f"{template.name} is not a Moodle grading worksheet: no {', '.join(sorted(missing_columns))} column"
                )
            if "Feedback comments" not in header:
                header.append("Feedback comments")
        else:
            header, lines = WORKSHEET, []
            for r in rows:
                identity = _moodle_identity(originals.get((r.student, chapter), ""))
                if identity is None:
                    continue
                person = term.roster.get(r.student)
                lines.append(
                    {
                        "Identifier": f"{PARTICIPANT}{identity[1]}",
                        "Full name": identity[0],
                        "Email address": person.email if person else "",
                        "Status": "Submitted for grading",
                        "Maximum Grade": f"{max_score:g}",
                        "Grade can be changed": "Yes",
                        "Last modified (submission)": _moment(submitted.get((r.student, chapter))),
                    }
                )
            if not lines:
                continue
        for line in lines:
            participant = (line.get("Identifier") or "").removeprefix(PARTICIPANT).strip()
            student = (
                participant
                if participant in by_student
                else by_email.get((line.get("Email address") or "").strip().lower())
            )
            result = by_student.get(student) if student else None
            if result is None and student not in term.roster:
                continue  # not graded here: left as Moodle wrote it
            line["Grade"] = score_cell(result, term.missing)
            line["Last modified (grade)"] = _moment(now)
            line["Feedback comments"] = feedback_text(result)
        path = out / f"{chapter}_moodle_worksheet.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(lines)
        written.append(path)
    return written


def feedback_zips(root: Path, results: list[SubmissionResult], originals: dict[tuple[str, str], str]) -> list[Path]:
    """Per chapter under ``root/export``: the generic zip (a folder per student: page and log)
    and, for submissions downloaded from Canvas or Moodle, that LMS's bulk-upload zip."""
    out = root / "export"
    out.mkdir(exist_ok=True)
    written = []
    for chapter in sorted({r.chapter for r in results}):
        generic, canvas, moodle = [], [], []
        for r in results:
            folder = root / "feedback" / r.student / chapter
            if r.chapter != chapter or not folder.is_dir():
                continue
            page = folder / f"{chapter}.html"
            generic += [(file, f"{r.student}/{file.name}") for file in sorted(folder.iterdir())]
            original = originals.get((r.student, chapter), "")
            if (prefix := _canvas_prefix(original)) and page.exists():
                canvas.append((page, f"{prefix}_feedback_{chapter}.html"))
            if (identity := _moodle_identity(original)) and page.exists():
                moodle.append((page, f"{identity[0]}_{identity[1]}_assignfeedback_file_/{chapter}_feedback.html"))
        for suffix, entries in (("feedback", generic), ("canvas_feedback", canvas), ("moodle_feedback", moodle)):
            path = out / f"{chapter}_{suffix}.zip"
            if not entries:
                path.unlink(missing_ok=True)
                continue
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for file, name in entries:
                    zf.write(file, name)
            written.append(path)
    return written
