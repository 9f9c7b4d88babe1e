"""Reading an answer's source in the student's kernel: which names its cell uses that only another
cell defines (grading runs only the set-up cells and the answer cells, so those would be missing)."""

from __future__ import annotations

import ast
import builtins

from llmcourse.grading.declarations import Exercise


def _defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name for n in tree.body) or any(
        isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
        for n in tree.body
    )


def _bound_names(tree: ast.AST) -> set[str]:
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            bound.add(node.name)
            bound.update(a.arg for a in node.args.args + node.args.kwonlyargs) if not isinstance(
                node, ast.ClassDef
            ) else None
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound


def outside_names(answer_source: str, setup_sources: list[str], allowed: set[str]) -> list[str]:
    """Names the answer's cell uses that neither it, the set-up cells nor Python define: they
    would be missing when graded (only set-up cells and answer cells run)."""
    try:
        tree = ast.parse(answer_source)
    except SyntaxError:
        return []
    defined = _bound_names(tree) | set(dir(builtins)) | allowed
    for source in setup_sources:
        try:
            defined |= _bound_names(ast.parse(source))
        except SyntaxError:
            continue
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return sorted(used - defined)


def names_outside_cells(exercise: Exercise, answers: set[str]) -> list[str]:
    """In a notebook kernel: the names the answer's latest cell uses that only other (demo)
    cells define; empty outside IPython or when the cell cannot be found."""
    history = _history()
    own = next((cell for cell in reversed(history) if _defines(cell, exercise.name)), None)
    if own is None:
        return []
    setup = [cell for cell in history if "llmcourse.grading import" in cell]
    return outside_names(own, setup, answers | set(exercise.depends))


def _history() -> list[str]:
    try:
        shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821 - exists in IPython only
    except NameError:
        return []
    return [cell for cell in shell.user_ns.get("In", []) if cell]
