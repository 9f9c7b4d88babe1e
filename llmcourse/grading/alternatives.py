"""The valid alternatives of a chapter's exercises: complete correct answers written differently
from the solution, kept on the instructor's side.

They are the mutation suite's answers that must get full marks (``make mutants``), part of the
course's own code the class report compares answers with (near-copies,
:func:`llmcourse.grading.similarity.course_code`), and the tests' known good answers. They live in
``autograde/alternatives/chNN.py`` beside this package, not in ``llmcourse/grading/chNN.py``:
that module is what the student's notebook imports (``import llmcourse.grading.chNN as grade``)
and ships with the package, and ``autograde/`` is neither installed with the package nor readable
by the sandboxed student process. In a student's install the folder is absent and a chapter has
no alternatives.

The file is parsed, never run: ``ALTERNATIVES`` must be a literal
``dict[str, tuple[str, ...]]`` keyed by the exercise's key in the chapter's ``EXERCISES``.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import cast

GRADING_DIR = Path(__file__).resolve().parent
ALTERNATIVES_DIR = GRADING_DIR.parents[1] / "autograde" / "alternatives"  # the repository's, when there is one
CHAPTER = re.compile(r"(\d{2})_[a-z0-9_]+")  # a chapter id, e.g. "02_transformer_anatomy"


def alternatives_file(chapter: str) -> Path:
    """``autograde/alternatives/chNN.py`` of ``chapter`` (e.g. ``"02_transformer_anatomy"``), the
    name checked against the chapters whose checks this package has (``llmcourse/grading/chNN.py``)."""
    match = CHAPTER.fullmatch(chapter) if isinstance(chapter, str) else None
    if match is None or not (GRADING_DIR / f"ch{match[1]}.py").is_file():
        raise ValueError(f"not a chapter of the course: {chapter!r}")
    return ALTERNATIVES_DIR / f"ch{match[1]}.py"


def alternatives_of(chapter: str) -> dict[str, tuple[str, ...]]:
    """``{exercise key: (code, ...)}`` for ``chapter``; ``{}`` where ``autograde/`` is absent (an
    installed package)."""
    return dict(_read(alternatives_file(chapter)))


@functools.cache
def _read(path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not path.is_file():
        return ()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    values = [
        node.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "ALTERNATIVES"
        or isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["ALTERNATIVES"]
    ]
    if len(values) != 1:
        raise ValueError(f"{path}: needs exactly one ALTERNATIVES = {{...}}")
    found = ast.literal_eval(cast(ast.expr, values[0]))  # the assignment's value
    if not (
        isinstance(found, dict)
        and all(
            isinstance(key, str) and isinstance(codes, tuple) and all(isinstance(code, str) for code in codes)
            for key, codes in found.items()
        )
    ):
        raise ValueError(f"{path}: ALTERNATIVES must be a dict[str, tuple[str, ...]]")
    return tuple(found.items())
