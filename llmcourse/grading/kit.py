"""The small tools every chapter's checks share: seeded generators, cases built once per process,
and catalogued mistakes kept as answer files.

A chapter's checks are a package, ``llmcourse/grading/chNN/``: one module per exercise
(``attention.py``: its cases, comparison, forbidden calls and declaration) and, beside them, one
file per catalogued mistake, ``mistakes/<exercise module>/<mistake id>.py``. A mistake's file is
an answer as a student could hand it in, under a docstring that is what the student is told when
their result matches it (``mistakes/attention/scale_by_d.py``)::

    '''you scale by 1/d instead of 1/sqrt(d)'''
    import math
    import torch

    def scaled_dot_product_attention(q, k, v, mask=None):
        ...

Checks modules import these instead of keeping copies; the student-side runners have theirs in
:mod:`llmcourse.grading.runners` (``one_thread``).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from pathlib import Path

import torch

from llmcourse.grading.declarations import Case, Mistake


def seeded(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: each case draws its inputs from its own stream, so
    adding a case changes no other case's inputs."""
    return torch.Generator().manual_seed(seed)


def variant(code: str, *replacements: tuple[str, str]) -> str:
    """``code`` (a reference answer's source) with each ``old`` replaced by ``new``: one
    catalogued mistake. Each ``old`` must occur exactly once, so a reference that changes cannot
    silently turn a mistake into a second copy of the reference."""
    for old, new in replacements:
        if code.count(old) != 1:
            raise ValueError(f"{old!r} occurs {code.count(old)} times in the template")
        code = code.replace(old, new)
    return code


def cases_once(cases: Callable[[bool], list[Case]]) -> Callable[[bool], list[Case]]:
    """Decorate an exercise's ``cases(hidden)`` so they are built once per process and value of
    ``hidden`` (oracles can take seconds: models, sacrebleu). Each call returns a new list of the
    same cases: the runners only ever hand the student copies of a case's inputs, so sharing the
    cases themselves is safe, while a caller may reorder or extend its list."""
    built = functools.cache(cases)
    return functools.wraps(cases)(lambda hidden: list(built(bool(hidden))))


def answer_file(path: Path) -> tuple[str, str]:
    """(docstring, code) of an answer file: the docstring says what the answer is (a mistake's
    message to the student), the code after it is the answer as a notebook cell holds it."""
    text = path.read_text(encoding="utf-8")
    body = ast.parse(text, filename=str(path)).body
    first = body[0] if body else None
    docstring = first.value.value if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) else None
    if not isinstance(docstring, str) or first is None:
        raise ValueError(f"{path}: an answer file starts with a docstring saying what it is")
    code = "".join(text.splitlines(keepends=True)[first.end_lineno or 1 :]).lstrip("\n")
    if not code.strip():
        raise ValueError(f"{path}: no code after the docstring")
    return docstring, code


def catalogue(exercise_file: str, ids: tuple[str, ...]) -> tuple[Mistake, ...]:
    """The mistakes of the exercise whose module is ``exercise_file`` (its ``__file__``), in the
    order of ``ids``: ``mistakes/<module name>/<id>.py`` beside it, each read by
    :func:`answer_file`. The folder must hold exactly those files, so a file cannot be forgotten in
    the catalogue, nor an id lack its file. The order matters: when a student's result matches two
    mistakes, the first one's message is shown."""
    module = Path(exercise_file)
    folder = module.parent / "mistakes" / module.stem
    found = {p.stem for p in folder.glob("*.py")}
    if found != set(ids) or len(ids) != len(set(ids)):
        raise ValueError(
            f"{folder}: the files {sorted(found - set(ids))} are not in the catalogue, the ids "
            f"{sorted(set(ids) - found)} have no file"
            + (", an id is listed twice" if len(ids) != len(set(ids)) else "")
        )
    return tuple(Mistake(ident, *answer_file(folder / f"{ident}.py")) for ident in ids)
