"""The grading package is layered: each module imports only modules of lower layers, so there is
no import cycle, and the student's side never reaches into the grader's side.

Read bottom to top, the layers are the order in which a newcomer can learn the package (see the
docstring of :mod:`llmcourse.grading.contract`).
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
from fnmatch import fnmatch
from pathlib import Path

import pytest

from llmcourse.grading import isolation

GRADING_DIR = Path(__file__).resolve().parent.parent / "llmcourse" / "grading"

# Lowest first. A module may import modules of strictly lower layers only (patterns as fnmatch).
LAYERS: list[tuple[str, ...]] = [
    # the student's side: what a notebook imports and what runs an answer
    ("declarations",),
    ("loading",),
    ("wire",),
    ("judging",),
    ("guards", "sources"),
    ("student",),
    ("contract",),
    ("submission", "runners", "kit"),
    ("runners.ch[0-9][0-9]",),
    ("__init__",),
    ("ch[0-9][0-9]", "ch[0-9][0-9].*"),
    # the grader's side: intake, isolation, execution, results, reports
    ("intake", "redaction", "isolation", "results", "alternatives", "collect", "releases", "selfcheck"),
    ("sandbox", "similarity"),
    ("engine", "term", "report"),
    ("overrides", "classreport", "lms", "distributed"),
    ("cli",),
]


def module_name(path: Path) -> str:
    """``runners/ch02.py`` -> ``runners.ch02``; a package's ``__init__.py`` -> the package's name."""
    name = path.relative_to(GRADING_DIR).with_suffix("").as_posix().replace("/", ".")
    return name.removesuffix(".__init__") if name != "__init__" else name


def grading_imports(source: str, module: str) -> set[str]:
    """The modules of the grading package that ``module``'s ``source`` imports, anywhere in it
    (function bodies too): ``from llmcourse.grading import X`` counts as importing X."""
    modules = {module_name(p) for p in GRADING_DIR.rglob("*.py")}
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, module)):
        if isinstance(node, ast.ImportFrom) and node.module == "llmcourse.grading":
            found |= {alias.name for alias in node.names if alias.name in modules} or {"__init__"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llmcourse.grading."):
            found.add(node.module.removeprefix("llmcourse.grading."))
        elif isinstance(node, ast.Import):
            found |= {
                a.name.removeprefix("llmcourse.grading.") for a in node.names if a.name.startswith("llmcourse.grading.")
            }
    return found - {module}


def upward_imports(source: str, module: str) -> list[str]:
    """The grading modules ``source`` imports from its own layer or above."""
    rank = layer_of(module)
    return sorted(m for m in grading_imports(source, module) if layer_of(m) >= rank)


def layer_of(module: str) -> int:
    for rank, patterns in enumerate(LAYERS):
        if any(fnmatch(module, pattern) for pattern in patterns):
            return rank
    raise LookupError(f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}")


SOURCES = sorted(GRADING_DIR.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=module_name)
def test_every_module_imports_only_lower_layers(path: Path) -> None:
    module = module_name(path)
    upward = upward_imports(path.read_text(), module)
    assert not upward, f"{module} (layer {layer_of(module)}) imports {upward}, of its own layer or above"


def test_the_student_side_imports_nothing_of_the_grader_side() -> None:
    """What the student's process may read (isolation.STUDENT_SIDE) is closed under imports: a
    student-side module importing a grader-side one would fail in the sandbox, or leak oracles."""

    def student_side(module: str) -> bool:
        path = module.replace(".", "/")
        return any(
            (path + ".py").startswith(side) or path == side.removesuffix(".py") or f"{path}/".startswith(side)
            for side in isolation.STUDENT_SIDE
        )

    for path in SOURCES:
        module = module_name(path)
        if student_side(module):
            outside = sorted(m for m in grading_imports(path.read_text(), module) if not student_side(m))
            assert not outside, f"student-side {module} imports grader-side {outside}"


CHAPTER_PACKAGES = sorted(p.parent for p in GRADING_DIR.glob("ch[0-9][0-9]/__init__.py"))


@pytest.mark.parametrize("package", CHAPTER_PACKAGES, ids=lambda p: p.name)
def test_a_chapter_package_imports_its_own_modules_relatively(package: Path) -> None:
    """An earlier release's checks are loaded from a snapshot of the package under another name
    (``loading.load_checks``): its modules must import each other as ``from .common import x``, or
    they would import today's modules instead of the release's own."""
    absolute = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            absolute += [
                f"{path.relative_to(GRADING_DIR)}: {n}" for n in names if re.match(r"llmcourse\.grading\.ch\d\d", n)
            ]
    assert not absolute, absolute


def test_the_rule_catches_an_upward_import() -> None:
    """The check itself works: a declaration importing the engine in a function body, or a
    judging module importing the student's side, is reported."""
    declarations = (GRADING_DIR / "declarations.py").read_text()
    assert upward_imports(declarations, "declarations") == []
    sneaky = declarations + "\n\ndef f():\n    from llmcourse.grading import engine\n"
    assert upward_imports(sneaky, "declarations") == ["engine"]
    assert upward_imports("from llmcourse.grading.student import check\n", "judging") == ["student"]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=GRADING_DIR, capture_output=True, text=True).stdout


def earlier_checks() -> dict[str, str]:
    """The source of every earlier release's checks that grading can load (see
    llmcourse.grading.releases): each tag's chNN.py, and the copies once kept in autograde/releases/."""
    found = {}
    for tag in _git("tag", "--list", "v*").split():
        for path in _git("ls-tree", "-r", "--name-only", tag, "llmcourse/grading/").split():
            if re.fullmatch(r"llmcourse/grading/ch\d\d(\.py|/.+\.py)", path):
                found[f"{tag}:{path}"] = _git("show", f"{tag}:{path}")
    for commit in _git("log", "--format=%H", "--", "autograde/releases").split():
        for path in _git("ls-tree", "-r", "--name-only", commit, "autograde/releases").split():
            if path.endswith(".py"):
                found.setdefault(f"{commit[:12]}:{path}", _git("show", f"{commit}:{path}"))
    return found


def test_earlier_releases_import_only_names_that_still_exist() -> None:
    """A student's notebook of an earlier release is graded with that release's checks, which
    import the current package: a name moved or deleted here would make them fail to load."""
    missing = set()
    for where, source in earlier_checks().items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llmcourse"):
                module = importlib.import_module(node.module)
                missing |= {(node.module, a.name, where) for a in node.names if not hasattr(module, a.name)}
    assert not missing, sorted(missing)[:10]
