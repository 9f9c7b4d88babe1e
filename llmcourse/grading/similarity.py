"""Similar submissions: MOSS-style winnowing of each exercise's answer cells (``copydetect``).

For each graded exercise of a chapter, every pair of students' answer cells is compared with
copydetect's fingerprints: k-grams of tokens, winnowed, after its filter has replaced every
identifier, string and comment by a placeholder, so renamed variables, reordered functions and
reworded comments change nothing. The starter code the notebook gives (the exercise cell of the
student edition: signature, docstring, ``# YOUR CODE HERE``) is boilerplate: its fingerprints
are ignored. A pair is listed when the *mean* of its two similarities (the share of each
answer's fingerprinted tokens found in the other) reaches ``threshold``. Answers with fewer than
``min_tokens`` fingerprinted tokens beyond the starter are not compared: a one-line answer can
only be written a few ways, and two students writing it alike says nothing.

Settings come from ``term.toml``::

    [similarity]
    threshold = 0.8      # mean similarity of a pair to list it (0-1)
    min_tokens = 40      # shorter answers are not compared

With these defaults, on every graded exercise of the course (tests/test_similarity.py): each
answer disguised as students hide copying (every local renamed, comments replaced, functions
and methods reordered) scores 0.84 or more against its original and is listed; the mutation
suite's valid alternatives score at most 0.79 against each other and the solution (the highest
being chapter 03's Block, whose alternative differs from the solution in type hints and
comments only) and are not.

A listed pair is for the instructor to read, never a verdict: the class report shows the two
cells side by side with the shared passages highlighted. Each answer is also compared, the same
way, with the course's own code (its solution, its valid alternatives, which live on the
instructor's side in ``autograde/alternatives/``, and its reference implementation): those pairs
are listed apart, as near-copies to review.
"""

from __future__ import annotations

import html
import io
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

K = 12  # tokens per k-gram: short enough that a few changed tokens (unparse, reordering) do not hide a copy
WINDOW = 1  # winnowing window: every k-gram kept (answers are short)


@dataclass(frozen=True)
class Settings:
    threshold: float = 0.8
    min_tokens: int = 40

    def __post_init__(self):
        if not 0 < self.threshold <= 1:
            raise ValueError(f"[similarity] threshold must be in (0, 1], got {self.threshold}")
        if self.min_tokens < 0:
            raise ValueError(f"[similarity] min_tokens must be 0 or more, got {self.min_tokens}")


@dataclass
class SimilarPair:
    """Two students whose answers to one exercise are alike."""

    chapter: str
    exercise: str  # the graded function or class
    students: tuple[str, str]
    similarities: tuple[float, float]  # the share of each answer found in the other
    code: tuple[str, str]
    shared: tuple[list[tuple[int, int]], list[tuple[int, int]]]  # (start, end) characters in each answer

    @property
    def similarity(self) -> float:
        return sum(self.similarities) / 2


def _fingerprint(code: str, boilerplate: list[int] | None = None):
    from copydetect import CodeFingerprint

    return CodeFingerprint("answer.py", K, WINDOW, boilerplate=boilerplate, language="python", fp=io.StringIO(code))


def similar_pairs(
    chapter: str, exercise: str, answers: dict[str, str], starter: str, settings: Settings = Settings()
) -> list[SimilarPair]:
    """The pairs of ``answers`` (student -> answer cell) at or above ``settings.threshold``,
    most similar first; ``starter`` is the cell as the student edition gives it."""
    from copydetect import compare_files

    boilerplate = sorted(_fingerprint(starter).hashes)
    prints = {}
    for student, code in sorted(answers.items()):
        if not code.strip() or code.strip() == starter.strip():
            continue  # unanswered
        fingerprint = _fingerprint(code, boilerplate)
        if fingerprint.token_coverage >= max(1, settings.min_tokens):
            prints[student] = fingerprint
    pairs = []
    for (a, fa), (b, fb) in itertools.combinations(prints.items(), 2):
        if fa.hashes.isdisjoint(fb.hashes):
            continue
        _, (sa, sb), (slices_a, slices_b) = compare_files(fa, fb)
        pair = SimilarPair(
            chapter,
            exercise,
            (a, b),
            (float(sa), float(sb)),
            (answers[a], answers[b]),
            (_spans(slices_a), _spans(slices_b)),
        )
        if pair.similarity >= settings.threshold:
            pairs.append(pair)
    return sorted(pairs, key=lambda p: (-p.similarity, p.students))


def _spans(slices) -> list[tuple[int, int]]:
    if len(slices) == 0 or len(slices[0]) == 0:
        return []
    return [(int(s), int(e)) for s, e in zip(slices[0], slices[1])]


def answer_cells(notebook: Path, cell_ids: set[str]) -> dict[str, str]:
    """The sources of the cells with these nbgrader grade_ids in a submitted notebook; an
    unreadable notebook has none (the grader reports it)."""
    try:
        data = json.loads(notebook.read_bytes())
        cells = data.get("cells", [])
    except (OSError, ValueError, AttributeError):
        return {}
    found = {}
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        grade_id = (
            (cell.get("metadata") or {}).get("nbgrader", {}).get("grade_id")
            if isinstance(cell.get("metadata"), dict)
            else None
        )
        if grade_id in cell_ids and grade_id not in found:
            source = cell.get("source", "")
            found[grade_id] = "".join(source) if isinstance(source, list) else str(source)
    return found


COURSE = "course: "  # how the course's own code is named in a pair


def course_code(chapter: str, key: str, solution_notebook: Path) -> dict[str, str]:
    """The course's own code for exercise ``key`` of ``chapter``, by name: its solution cell, its
    valid alternatives (:func:`llmcourse.grading.alternatives.alternatives_of`, none where
    ``autograde/`` is absent) and the course's reference implementation (its forbidden
    ``llmcourse`` code)."""
    import inspect

    from llmcourse.grading.alternatives import alternatives_of
    from llmcourse.grading.loading import exercises_of, load_qualname

    exercise = exercises_of(chapter)[key]
    code = {f"{COURSE}solution": answer_cells(solution_notebook, {exercise.cell}).get(exercise.cell, "")}
    code.update(
        {
            f"{COURSE}alternative {i}": alternative
            for i, alternative in enumerate(alternatives_of(chapter).get(key, ()), 1)
        }
    )
    for target in exercise.forbidden.python:
        if target.startswith("llmcourse.") and "." not in target.partition(":")[2]:
            try:
                code[f"{COURSE}{target.replace(':', '.')}"] = inspect.getsource(load_qualname(target))
            except (ImportError, OSError, TypeError, AttributeError):
                continue
    return {name: text for name, text in code.items() if text.strip()}


def class_pairs(
    submissions: dict[str, Path],
    chapter: str,
    starter_notebook: Path,
    settings: Settings = Settings(),
    solution_notebook: Path | None = None,
) -> list[SimilarPair]:
    """Every similar pair of one chapter: ``submissions`` maps students to their notebooks,
    ``starter_notebook`` is the chapter's student edition. With ``solution_notebook``, each
    answer is also compared with the course's own code (:func:`course_code`): such a pair names
    it ``course: ...`` and is listed for review as a near-copy of it."""
    from llmcourse.grading.loading import exercises_of

    exercises = exercises_of(chapter)
    ids = {e.cell for e in exercises.values()}
    starters = answer_cells(starter_notebook, ids)
    cells = {student: answer_cells(path, ids) for student, path in submissions.items()}
    pairs = []
    for key, exercise in exercises.items():
        answers = {s: c[exercise.cell] for s, c in cells.items() if exercise.cell in c}
        if solution_notebook is not None:
            answers.update(course_code(chapter, key, solution_notebook))
        found = similar_pairs(chapter, exercise.name, answers, starters.get(exercise.cell, ""), settings)
        pairs += [p for p in found if not all(s.startswith(COURSE) for s in p.students)]
    return pairs


def _highlighted(code: str, spans: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for start, end in sorted(spans):
        start = max(start, at)
        if end <= start:
            continue
        out += [html.escape(code[at:start]), f"<mark>{html.escape(code[start:end])}</mark>"]
        at = end
    out.append(html.escape(code[at:]))
    return "".join(out)


def html_section(pairs: list[SimilarPair], settings: Settings) -> str:
    """The class report's parts of one chapter: "Near-copies of the course's own code (needs
    review)" and "Similar answers"."""
    ours = [p for p in pairs if any(s.startswith(COURSE) for s in p.students)]
    theirs = [p for p in pairs if p not in ours]
    near = (
        _pairs_html(
            "Near-copies of the course's own code (needs review)",
            ours,
            "Answers alike the course's solution, one of its valid alternatives or its reference implementation "
            "(same measure and threshold as below). Writing the standard answer is not copying: read them.",
        )
        if ours
        else ""
    )
    return near + _pairs_html(
        "Similar answers",
        theirs,
        f"Pairs of answer cells whose mean similarity is at least {settings.threshold:.0%} (MOSS-style winnowing with "
        "copydetect; names, strings and comments ignored, the starter code left out, answers under "
        f"{settings.min_tokens} "
        "tokens not compared). Shared passages are highlighted. A listed pair is something to read, not a verdict.",
    )


def _pairs_html(title: str, pairs: list[SimilarPair], intro: str) -> str:
    esc = html.escape
    head = f"<h3>{esc(title)}</h3><p>{esc(intro)}</p>"
    if not pairs:
        return head + "<p>None.</p>"
    parts = [head, "<table><tr><th>exercise</th><th>students</th><th>similarity</th></tr>"]
    for p in pairs:
        parts.append(
            f"<tr><td>{esc(p.exercise)}</td><td>{esc(p.students[0])} and {esc(p.students[1])}</td>"
            f"<td>{p.similarity:.0%} ({p.similarities[0]:.0%} / {p.similarities[1]:.0%})</td></tr>"
        )
    parts.append("</table>")
    for p in pairs:
        columns = "".join(
            f"<div style='flex:1;min-width:0'><b>{esc(student)}</b><pre "
            f"style='white-space:pre-wrap'>{_highlighted(code, spans)}</pre></div>"
            for student, code, spans in zip(p.students, p.code, p.shared)
        )
        parts.append(
            f"<details class='similar'><summary>{esc(p.exercise)}: {esc(p.students[0])} and {esc(p.students[1])}, "
            f"{p.similarity:.0%}</summary><div style='display:flex;gap:1em'>{columns}</div></details>"
        )
    return "".join(parts)
