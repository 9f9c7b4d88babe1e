"""The valid alternatives of a chapter's exercises: complete correct answers written differently
from the solution, kept on the instructor's side.

They are the mutation suite's answers that must get full marks (``make mutants``), part of the
course's own code the class report compares answers with (near-copies,
:func:`llmcourse.grading.similarity.course_code`), and the tests' known good answers. They live in
``autograde/alternatives/chNN/<exercise>/<name>.py`` beside this package, one file each, not in
``llmcourse/grading/chNN/``: that package is what the student's notebook imports
(``import llmcourse.grading.chNN as grade``) and ships with the package, and ``autograde/`` is
neither installed with the package nor readable by the sandboxed student process. In a student's
install the folder is absent and a chapter has no alternatives.

Each file is an answer file (:func:`llmcourse.grading.kit.answer_file`): a docstring saying how the
answer differs, then the answer as a notebook cell holds it. Files are parsed and read, never run
(ruff lints them as code); ``<exercise>`` is the exercise's key in the chapter's ``EXERCISES``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from llmcourse.grading.kit import answer_file

GRADING_DIR = Path(__file__).resolve().parent
ALTERNATIVES_DIR = GRADING_DIR.parents[1] / "autograde" / "alternatives"  # the repository's, when there is one
CHAPTER = re.compile(r"(\d{2})_[a-z0-9_]+")  # a chapter id, e.g. "02_transformer_anatomy"


def alternatives_dir(chapter: str) -> Path:
    """``autograde/alternatives/chNN/`` of ``chapter`` (e.g. ``"02_transformer_anatomy"``), the
    name checked against the chapters whose checks this package has (``llmcourse/grading/chNN/``)."""
    match = CHAPTER.fullmatch(chapter) if isinstance(chapter, str) else None
    if match is None or not any((GRADING_DIR / f"ch{match[1]}{suffix}").exists() for suffix in (".py", "/__init__.py")):
        raise ValueError(f"not a chapter of the course: {chapter!r}")
    return ALTERNATIVES_DIR / f"ch{match[1]}"


def alternatives_of(chapter: str) -> dict[str, tuple[str, ...]]:
    """``{exercise key: (code, ...)}`` for ``chapter``, files in name order; ``{}`` where
    ``autograde/`` is absent (an installed package)."""
    return dict(_read(alternatives_dir(chapter)))


@functools.cache
def _read(folder: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not folder.is_dir():
        return ()
    return tuple(
        (exercise.name, tuple(answer_file(path)[1] for path in sorted(exercise.glob("*.py"))))
        for exercise in sorted(folder.iterdir())
        if exercise.is_dir() and exercise.name != "__pycache__"
    )
