"""What an instructor looks at after grading: the class report page, LMS gradebook CSVs and the
feedback packed for bulk upload.

- ``class_report.html``: per chapter, the score distribution (a histogram), the pass rate of every
  exercise and sub-check (per release, when submissions of several were graded with their own
  checks), the most common failure messages and likely mistakes (from the
  engine's catalogue), what needs review (constructs that may hide a forbidden call, listed with
  the submission, cell and line; they cost nothing), and the submissions that needed repair or
  could not be graded fully.
  Each chapter then lists its similar answers (``llmcourse.grading.similarity``): pairs of
  students whose answer cells are alike, side by side with the shared passages highlighted.
  Every count is of students. Each requirement's row opens onto the students who did not meet
  it, and every student's name links to their submission's page.
- ``pages/<chapter>/<student>.html``: one per submission, for the instructor: each answer cell
  as submitted, under it that exercise's points, requirements and messages, then the
  instructor's overrides and what needs review.

The LMS exports are :mod:`llmcourse.grading.lms`'s.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections import Counter
from pathlib import Path
from typing import cast
from urllib.parse import quote

from llmcourse.grading.loading import exercises_of
from llmcourse.grading.results import SubmissionResult
from llmcourse.grading.similarity import Settings as SimilaritySettings
from llmcourse.grading.similarity import SimilarPair
from llmcourse.grading.similarity import html_section as similarity_section


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


def page_link(student: str, chapter: str) -> str:
    """The student's name linking to their submission's page (relative to the class report)."""
    return f"<a href='pages/{quote(chapter)}/{quote(student)}.html'>{html.escape(student)}</a>"


def _students(names: list[str], chapter: str) -> str:
    return ", ".join(page_link(s, chapter) for s in sorted(set(names)))


def chapter_section(chapter: str, results: list[SubmissionResult]) -> str:
    esc = html.escape
    graded = [r for r in results if r.status == "graded"]
    max_score = max((r.max_score for r in graded), default=0.0)
    parts = [f"<h2>{esc(chapter)}</h2>"]
    missing = sum(r.status == "missing" for r in results)
    excused = sum(r.status == "excused" for r in results)
    errors = [r for r in results if r.status == "error"]
    if graded:
        scores = cast("list[float]", [r.score for r in graded])  # graded: every one has a score
        mean = sum(scores) / len(scores)
        parts.append(
            f"<p>{len(graded)} graded, {missing} missing, {excused} excused, {len(errors)} could not be graded; "
            f"mean {mean:.2f} / {max_score:g}.</p>"
            f"<img alt='Histogram of the scores of {esc(chapter)}' "
            f"src='data:image/png;base64,{_figure_png(scores, max_score, chapter)}'>"
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
        parts.append(_rates_table(exercises, group, chapter))
    for name in declared:
        rows = [(r.student, e) for r in graded for e in r.exercises if e.name == name and e.status != "passed"]
        if not rows:
            continue
        statuses = Counter(e.status for _, e in rows)
        messages: dict[str, set[str]] = {}
        mistakes: dict[str, set[str]] = {}
        for student, e in rows:
            for m in e.messages[:1]:
                messages.setdefault(_normalise(m), set()).add(student)
            for line in (line.strip() for m in e.messages for line in m.splitlines()):
                if line.startswith("Likely mistake:"):
                    mistakes.setdefault(line.removeprefix("Likely mistake:").strip(), set()).add(student)
        parts.append(
            f"<h3>{esc(name)}: {len(rows)} students did not pass "
            f"({esc(', '.join(f'{k} {v}' for k, v in statuses.items()))})</h3>"
        )
        if mistakes:
            parts.append(
                "<p>Likely mistakes (students):</p><ul>"
                + "".join(
                    f"<li>{len(who)} × {esc(m)} "
                    f"<details><summary>who</summary>{_students(list(who), chapter)}</details></li>"
                    for m, who in _most_common(mistakes)
                )
                + "</ul>"
            )
        parts.append(
            "<p>Most common failures (students):</p><ul>"
            + "".join(f"<li>{len(who)} × <code>{esc(m)}</code></li>" for m, who in _most_common(messages))
            + "</ul>"
        )
    review = [r for r in results if r.review]
    if review:
        parts.append(
            "<h3>Needs review</h3><p>Constructs that can hide a forbidden call but are also written by "
            "honest students. They cost no points: a forbidden call that ran was caught and cost its exercise.</p><ul>"
        )
        parts += [f"<li>{page_link(r.student, chapter)}: {esc('; '.join(r.review))}</li>" for r in review]
        parts.append("</ul>")
    attention = [r for r in results if r.status == "error" or r.notes]
    if attention:
        parts.append("<h3>Submissions with notes (repairs, lateness, overrides) or that could not be graded</h3><ul>")
        parts += [
            f"<li>{page_link(r.student, chapter)} ({esc(r.status)}): {esc('; '.join(r.notes))}</li>" for r in attention
        ]
        parts.append("</ul>")
    everyone = sorted((r for r in results if r.status != "missing"), key=lambda r: r.student)
    if everyone:
        parts.append(
            f"<details><summary>All {len(everyone)} "
            "submissions</summary><table><tr><th>student</th><th>score</th><th>status</th></tr>"
        )
        parts += [
            f"<tr><td>{page_link(r.student, chapter)}</td>"
            f"<td>{'' if r.score is None else f'{r.score:g}'}</td><td>{esc(r.status)}</td></tr>"
            for r in everyone
        ]
        parts.append("</table></details>")
    return "".join(parts)


def _most_common(groups: dict[str, set[str]], n: int = 6) -> list[tuple[str, set[str]]]:
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))[:n]


def _release_label(checks: str) -> str:
    """``file:.../releases/<chapter>/<version>.py`` -> "the checks of release <version>"."""
    return (
        f"the checks of release {Path(checks.removeprefix('file:')).stem}"
        if checks.startswith("file:")
        else "the current checks"
    )


def _rates_table(exercises: dict, results: list[SubmissionResult], chapter: str) -> str:
    """The pass rate of every exercise and sub-check among ``results`` (graded with
    ``exercises``); each row opens onto the students who did not pass it."""
    esc = html.escape
    parts = ["<table><tr><th>exercise / sub-check</th><th>passed</th><th>rate</th><th>did not pass</th></tr>"]
    for exercise in exercises.values():
        rows = [(r.student, e) for r in results for e in r.exercises if e.name == exercise.name]
        failed = [s for s, e in rows if e.status != "passed"]
        parts.append(f"<tr><td><b>{esc(exercise.name)}</b></td>{_rate_cells(len(rows), failed, chapter)}</tr>")
        for sub in exercise.subchecks:
            failed = [s for s, e in rows if e.subchecks.get(sub.id, 0) != sub.points]
            parts.append(
                f"<tr><td>&nbsp;&nbsp;{esc(sub.requirement)}</td>{_rate_cells(len(rows), failed, chapter)}</tr>"
            )
    return "".join(parts) + "</table>"


def _rate_cells(total: int, failed: list[str], chapter: str) -> str:
    passed = total - len(failed)
    who = f"<details><summary>{len(failed)}</summary>{_students(failed, chapter)}</details>" if failed else ""
    return f"<td>{passed}/{total}</td><td>{passed / max(1, total):.0%}</td><td>{who}</td>"


def class_report(
    results: list[SubmissionResult],
    path: Path,
    similar: list[SimilarPair] | None = None,
    settings: SimilaritySettings | None = None,
) -> Path:
    """Write the class report page (self-contained: figures are embedded). With ``similar``
    (pairs from ``llmcourse.grading.similarity``), each chapter lists its similar answers."""
    chapters = sorted({r.chapter for r in results})
    body = "".join(
        chapter_section(c, [r for r in results if r.chapter == c])
        + (
            similarity_section([p for p in similar if p.chapter == c], settings or SimilaritySettings())
            if similar is not None
            else ""
        )
        for c in chapters
    )
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title>"
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{padding:.15em .6em;text-align:left}"
        "table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}</style></head><body>"
        f"<h1>Class report</h1><p>{len({r.student for r in results})} students, {len(chapters)} "
        f"chapters.</p>{body}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path


def write_pages(
    root: Path, results: list[SubmissionResult], notebooks: dict[tuple[str, str], Path | None]
) -> list[Path]:
    """``root/pages/<chapter>/<student>.html`` for every submission (``notebooks``: where each
    submitted notebook is): its answers with their feedback, for the instructor."""
    from llmcourse.grading.report import feedback_html
    from llmcourse.grading.similarity import answer_cells

    written = []
    for r in results:
        if r.status == "missing":
            continue
        cells = {e.cell for e in exercises_of(r.chapter, r.checks or None).values()}
        notebook = notebooks.get((r.student, r.chapter))
        answers = answer_cells(notebook, cells) if notebook is not None else {}
        path = root / "pages" / r.chapter / f"{r.student}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(feedback_html(r, answers), encoding="utf-8")
        written.append(path)
    return written
