"""Planted copies for the similarity report's tests: an answer rewritten the way students hide
copying (every local name renamed, comments dropped and new ones added, helper functions and
methods in another order), and the answers it must not be confused with."""

from __future__ import annotations

import ast
import re


class _Rename(ast.NodeTransformer):
    """Rename every argument and local variable (never attributes, globals or imports)."""

    def __init__(self, names: set[str]):
        self.mapping = {name: f"renamed_{i}" for i, name in enumerate(sorted(names))}

    def visit_Name(self, node):
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.mapping.get(node.arg, node.arg)
        return node


def _locals(tree: ast.AST) -> set[str]:
    names = set()
    for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))):
        for arg in function.args.args + function.args.kwonlyargs:
            if arg.arg != "self":
                names.add(arg.arg)
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def disguise(code: str) -> str:
    """``code`` with its locals renamed, its comments replaced and its definitions reordered."""
    code = re.sub(r"^\s*### (BEGIN|END) SOLUTION\s*$", "", code, flags=re.M)
    tree = ast.parse(code)
    # Keyword arguments a caller passes by name keep their names: rename only positional ones
    # that are not part of a public signature's keywords (the checks call answers positionally).
    tree = _Rename(_locals(tree)).visit(tree)
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    if len(defs) > 1:  # helpers after the function that uses them
        others = [n for n in tree.body if n not in defs]
        tree.body = others + defs[::-1]
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        methods = [n for n in cls.body if isinstance(n, ast.FunctionDef)]
        rest = [n for n in cls.body if not isinstance(n, ast.FunctionDef)]
        cls.body = rest + methods[::-1]
    lines = ast.unparse(tree).splitlines()
    return "# my own solution, written from scratch\n" + "\n".join(
        f"{line}  # step {i}"
        if line.strip() and not line.rstrip().endswith((":", "(", ",")) and '"""' not in line
        else line
        for i, line in enumerate(lines)
    )
