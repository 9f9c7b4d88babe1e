"""Intake: read a submitted notebook and find what grading runs, repairing what editors break.

The student's file is only read, never written. What grading runs, per exercise: the
notebook's set-up cells (tagged ``setup`` in the chapter's source), the solution cells of the
exercises it depends on, and its own solution cell. Demos and test cells never run while
grading: the checks come from the course's package, so a deleted or edited test cell changes
nothing (the report says it was restored).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

SETUP_TAG = "setup"


def _first_line(cell) -> str:
    return next((line.strip() for line in cell.source.splitlines() if line.strip()), "")


def _what_runs(source: str) -> str:
    """What a cell runs: its syntax tree, so comments, blank lines and spacing do not count (a
    comment fixed in a test cell mid-term is not an edit); its text when it does not parse."""
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.dump(ast.parse(TransformerManager().transform_cell(source)))
    except SyntaxError:
        return source.strip()


def _visible_part(source: str) -> str:
    """A test cell's source without its hidden tests (which the student edition never has)."""
    kept, hidden = [], False
    for line in source.strip().splitlines():
        if line.strip() == "### BEGIN HIDDEN TESTS":
            hidden = True
        elif line.strip() == "### END HIDDEN TESTS":
            hidden = False
        elif not hidden:
            kept.append(line.rstrip())
    return "\n".join(kept).strip()


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


@dataclass
class Submission:
    """The parts of one notebook that grading uses."""

    setup: list[str] = field(default_factory=list)  # sources of the set-up cells, in order
    trusted_setup: set[str] = field(default_factory=set)  # the course's own set-up sources
    demo_names: set[str] = field(default_factory=set)  # defined only by cells grading does not run
    answers: dict[str, str] = field(default_factory=dict)  # solution grade_id -> source
    notes: list[str] = field(default_factory=list)  # repairs, said in the report


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``; ``ValueError`` with a readable reason when it is not one."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same treatment
        raise ValueError(f"{path.name} is not a readable notebook ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path.name} has no cells")
    return nb


def intake(nb: nbformat.NotebookNode, source: nbformat.NotebookNode, graded: set[str] | None = None) -> Submission:
    """Find the set-up and solution cells of ``nb`` by the chapter's ``source`` notebook.

    ``graded``: the grade_ids of the answer cells the chapter's exercises grade; a missing
    solution cell is noted only when it is one of those (optional, ungraded answer cells may go).

    Repairs, each noted: a cell duplicated with its nbgrader id (the first copy is graded);
    cells whose nbgrader metadata or tags another editor stripped (recognised by cell id, or by
    their first line as in the source); set-up cells that cannot be found (the course's are used).
    """
    sub = Submission()
    cells: list[Any] = [c for c in nb.cells if isinstance(c, dict) and "source" in c]  # nbformat's cells
    for cell in cells:
        if isinstance(cell.source, list):
            cell.source = "".join(cell.source)
    wanted: dict[Any, Any] = {_grade_id(c): c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    tests: dict[Any, Any] = {_grade_id(c): c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}

    seen: dict[str, int] = {}
    for cell in cells:
        gid = _grade_id(cell)
        if gid is not None:
            seen[gid] = seen.get(gid, 0) + 1
            if seen[gid] == 2:
                sub.notes.append(f"cell '{gid}' appears more than once: graded the first copy")
            if gid in wanted and gid not in sub.answers and cell.cell_type == "code":
                sub.answers[gid] = cell.source

    restored = []
    for gid, original in wanted.items():
        if gid in sub.answers:
            continue
        match = next(
            (
                c
                for c in cells
                if _grade_id(c) is None
                and c.cell_type == "code"
                and (c.get("id") == original.get("id") or _first_line(c) == _first_line(original))
            ),
            None,
        )
        if match is not None:
            sub.answers[gid] = match.source
            restored.append(gid)
    if restored:
        sub.notes.append(
            f"nbgrader metadata of cells {', '.join(restored)} was lost: recognised them by id or first line"
        )
    missing = [gid for gid in wanted if gid not in sub.answers and (graded is None or gid in graded)]
    if missing:
        sub.notes.append(f"solution cells not found: {', '.join(missing)}")

    changed = []
    for gid, original in tests.items():
        mine = next((c for c in cells if _grade_id(c) == gid), None)
        if mine is None or _what_runs(_visible_part(mine.source)) != _what_runs(_visible_part(original.source)):
            changed.append(gid)
    if changed:
        sub.notes.append(
            f"test cells deleted or edited: {', '.join(changed)} (restored: the course's checks were used)"
        )

    setup_sources = [c for c in source.cells if SETUP_TAG in c.metadata.get("tags", [])]
    sub.trusted_setup = {c.source for c in setup_sources}
    tagged = [c.source for c in cells if SETUP_TAG in c.metadata.get("tags", []) and c.cell_type == "code"]
    if tagged:
        sub.setup = tagged
    else:
        by_id = {c.get("id"): c for c in cells}
        found = [by_id[c.get("id")].source for c in setup_sources if c.get("id") in by_id]
        if len(found) == len(setup_sources):
            sub.setup = found
        else:
            sub.setup = [c.source for c in setup_sources]
            if setup_sources:
                sub.notes.append("set-up cells not found: ran the course's own set-up cells")
    graded_sources = set(sub.answers.values()) | set(sub.setup)
    for cell in cells:
        if cell.cell_type == "code" and cell.source not in graded_sources:
            sub.demo_names |= _top_level_names(cell.source)
    return sub


def _top_level_names(source: str) -> set[str]:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def copy_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.from_dict(json.loads(json.dumps(nb)))
