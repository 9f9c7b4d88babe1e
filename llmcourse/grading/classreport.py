"""What an instructor looks at after grading: the class report page, LMS gradebook CSVs and the
feedback packed for bulk upload.

- ``class_report.html``: per chapter, the score distribution (a histogram), the pass rate of every
  exercise and sub-check (per release, when submissions of several were graded with their own checks), the most common failure messages and likely mistakes (from the
  engine's catalogue), what needs review (constructs that may hide a forbidden call, listed with
  the submission, cell and line; they cost nothing), and the submissions that needed repair or
  could not be graded fully.
  Each chapter then lists its similar answers (``llmcourse.grading.similarity``): pairs of
  students whose answer cells are alike, side by side with the shared passages highlighted.
- ``canvas_grades.csv``: Canvas's gradebook import. Canvas needs ``Student``, ``ID``,
  ``SIS User ID``, ``SIS Login ID`` and ``Section`` first (it matches rows by ``ID`` or the SIS
  columns), then one column per assignment, headed by the assignment's name in Canvas (here:
  the chapter id; rename the header if your assignment is called otherwise).
- ``moodle_grades.csv``: Moodle's "Import grades / CSV file". Moodle maps one identifier
  column (``Email address``, ``ID number`` or ``Username``) at import time, then each grade
  column to a grade item; a ``<chapter> feedback`` column can be mapped to the feedback.
- ``<chapter>_feedback.zip``: one folder per student holding the feedback page and log; for
  submissions that came from Moodle, the folder keeps Moodle's name so "Upload multiple
  feedback files in a zip" files them to the right student.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import re
import zipfile
from collections import Counter
from pathlib import Path

from llmcourse.grading.engine import SubmissionResult, exercises_of
from llmcourse.grading.similarity import Settings as SimilaritySettings
from llmcourse.grading.similarity import SimilarPair
from llmcourse.grading.similarity import html_section as similarity_section
from llmcourse.grading.term import Term


def _figure_png(scores: list[float], max_score: float, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.hist(scores, bins=min(20, max(5, int(max_score) * 2)), range=(0, max_score), color="#3572a5")
    ax.set(xlabel=f"score (out of {max_score:g})", ylabel="students", title=title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _normalise(message: str) -> str:
    """A failure message's first line with the numbers taken out, so alike failures count together."""
    first = message.splitlines()[0]
    first = first.split(": ", 1)[-1]  # drop the requirement's text
    return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", first)[:160]


def chapter_section(chapter: str, results: list[SubmissionResult]) -> str:
    esc = html.escape
    graded = [r for r in results if r.status == "graded"]
    max_score = max((r.max_score for r in graded), default=0.0)
    parts = [f"<h2>{esc(chapter)}</h2>"]
    missing = sum(r.status == "missing" for r in results)
    errors = [r for r in results if r.status == "error"]
    if graded:
        scores = [r.score for r in graded]
        mean = sum(scores) / len(scores)
        parts.append(
            f"<p>{len(graded)} graded, {missing} missing, {len(errors)} could not be graded; mean {mean:.2f} / {max_score:g}.</p>"
            f"<img alt='Histogram of the scores of {esc(chapter)}' src='data:image/png;base64,{_figure_png(scores, max_score, chapter)}'>"
        )
    releases: dict[str, list[SubmissionResult]] = {}  # each release's submissions, rated by its own sub-checks
    for r in graded:
        releases.setdefault(r.checks or "", []).append(r)
    declared = {}
    for checks, group in sorted(releases.items()):
        exercises = exercises_of(chapter, checks or None)
        declared.update({e.name: e for e in exercises.values()})
        if len(releases) > 1:
            parts.append(f"<h3>{len(group)} graded with {esc(_release_label(checks))}</h3>")
        parts.append(_rates_table(exercises, group))
    for name in declared:
        rows = [e for r in graded for e in r.exercises if e.name == name and e.status != "passed"]
        if not rows:
            continue
        statuses = Counter(e.status for e in rows)
        messages = Counter(_normalise(m) for e in rows for m in e.messages[:1])
        mistakes = Counter(
            line.strip().removeprefix("Likely mistake:").strip()
            for e in rows for m in e.messages for line in m.splitlines() if line.strip().startswith("Likely mistake:")
        )
        parts.append(f"<h3>{esc(name)}: {len(rows)} not passed ({esc(', '.join(f'{k} {v}' for k, v in statuses.items()))})</h3>")
        if mistakes:
            parts.append("<p>Likely mistakes:</p><ul>" + "".join(f"<li>{n} × {esc(m)}</li>" for m, n in mistakes.most_common(6)) + "</ul>")
        parts.append("<p>Most common failures:</p><ul>" + "".join(f"<li>{n} × <code>{esc(m)}</code></li>" for m, n in messages.most_common(6)) + "</ul>")
    review = [r for r in results if r.review]
    if review:
        parts.append("<h3>Needs review</h3><p>Constructs that can hide a forbidden call but are also written by "
                     "honest students. They cost no points: a forbidden call that ran was caught and cost its exercise.</p><ul>")
        parts += [f"<li>{esc(r.student)}: {esc('; '.join(r.review))}</li>" for r in review]
        parts.append("</ul>")
    attention = [r for r in results if r.status == "error" or r.notes]
    if attention:
        parts.append("<h3>Submissions that needed repair or could not be graded</h3><ul>")
        parts += [f"<li>{esc(r.student)} ({esc(r.status)}): {esc('; '.join(r.notes))}</li>" for r in attention]
        parts.append("</ul>")
    return "".join(parts)


def _release_label(checks: str) -> str:
    """``file:.../releases/<chapter>/<version>.py`` -> "the checks of release <version>"."""
    return f"the checks of release {Path(checks.removeprefix('file:')).stem}" if checks.startswith("file:") else "the current checks"


def _rates_table(exercises: dict, results: list[SubmissionResult]) -> str:
    """The pass rate of every exercise and sub-check among ``results`` (graded with ``exercises``)."""
    esc = html.escape
    parts = ["<table><tr><th>exercise / sub-check</th><th>passed</th><th>rate</th></tr>"]
    for exercise in exercises.values():
        rows = [e for r in results for e in r.exercises if e.name == exercise.name]
        passed = sum(e.status == "passed" for e in rows)
        parts.append(f"<tr><td><b>{esc(exercise.name)}</b></td><td>{passed}/{len(rows)}</td><td>{passed / max(1, len(rows)):.0%}</td></tr>")
        for sub in exercise.subchecks:
            ok = sum(e.subchecks.get(sub.id, 0) == sub.points for e in rows)
            parts.append(f"<tr><td>&nbsp;&nbsp;{esc(sub.requirement)}</td><td>{ok}/{len(rows)}</td><td>{ok / max(1, len(rows)):.0%}</td></tr>")
    return "".join(parts) + "</table>"


def class_report(results: list[SubmissionResult], path: Path, similar: list[SimilarPair] | None = None,
                 settings: SimilaritySettings | None = None) -> Path:
    """Write the class report page (self-contained: figures are embedded). With ``similar``
    (pairs from ``llmcourse.grading.similarity``), each chapter lists its similar answers."""
    chapters = sorted({r.chapter for r in results})
    body = "".join(
        chapter_section(c, [r for r in results if r.chapter == c])
        + (similarity_section([p for p in similar if p.chapter == c], settings or SimilaritySettings()) if similar is not None else "")
        for c in chapters)
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title>"
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{padding:.15em .6em;text-align:left}"
        "table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}</style></head><body>"
        f"<h1>Class report</h1><p>{len({r.student for r in results})} students, {len(chapters)} chapters.</p>{body}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path


def _score(r: SubmissionResult | None, missing: str) -> str:
    """A cell of an LMS CSV: the score, ``missing`` when there is no submission, blank when it
    could not be graded."""
    if r is None or r.status == "missing":
        return missing
    return "" if r.score is None else f"{r.score:g}"


def lms_csvs(results: list[SubmissionResult], term: Term, folder: Path) -> tuple[Path, Path]:
    """Write ``canvas_grades.csv`` and ``moodle_grades.csv`` (one row per student)."""
    chapters = sorted({r.chapter for r in results})
    students = sorted({r.student for r in results} | set(term.roster))
    by_key = {(r.student, r.chapter): r for r in results}
    canvas, moodle = folder / "canvas_grades.csv", folder / "moodle_grades.csv"
    with open(canvas, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *chapters])
        writer.writerow(["Points Possible", "", "", "", "", *[f"{max((r.max_score for r in results if r.chapter == c), default=0):g}" for c in chapters]])
        for s in students:
            person = term.roster.get(s)
            writer.writerow([person.name if person else s, s, "", person.email if person else "", "", *[_score(by_key.get((s, c)), term.missing) for c in chapters]])
    with open(moodle, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Email address", "ID number", "Full name", *[col for c in chapters for col in (c, f"{c} feedback")]])
        for s in students:
            person = term.roster.get(s)
            cells = []
            for c in chapters:
                r = by_key.get((s, c))
                cells += [_score(r, term.missing), "" if r is None else "; ".join(e.summary() for e in r.exercises) or r.status]
            writer.writerow([person.email if person else "", s, person.name if person else "", *cells])
    return canvas, moodle


def pack_feedback(root: Path, results: list[SubmissionResult], originals: dict[tuple[str, str], str]) -> list[Path]:
    """One zip per chapter under ``root/export``: a folder per student with the feedback page
    and log (Moodle submissions keep Moodle's folder name)."""
    out = root / "export"
    out.mkdir(exist_ok=True)
    written = []
    for chapter in sorted({r.chapter for r in results}):
        path = out / f"{chapter}_feedback.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for r in results:
                folder = root / "feedback" / r.student / chapter
                if r.chapter != chapter or not folder.is_dir():
                    continue
                original = originals.get((r.student, chapter)) or ""
                name = original.split("/")[0] if "_assignsubmission_file_" in original else r.student
                for file in folder.iterdir():
                    zf.write(file, f"{name}/{file.name}")
        written.append(path)
    return written
