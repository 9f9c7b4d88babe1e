"""The valid alternatives (complete correct answers) live on the instructor's side,
``autograde/alternatives/chNN.py``, read by ``llmcourse.grading.alternatives`` (issue 22, item 7):
not in what the student's notebook imports (``import llmcourse.grading.chNN as grade``), not in
the installed package, not readable by the sandboxed student process.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import tomllib
import types
from pathlib import Path

import nbformat
import pytest
import setuptools

from llmcourse.grading import alternatives, isolation
from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.loading import checks_module, exercises_of, runner_of

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))


def all_alternatives():
    return [
        (chapter, key, i, code)
        for chapter in CHAPTERS
        for key, codes in alternatives_of(chapter).items()
        for i, code in enumerate(codes)
    ]


def test_every_exercise_has_its_alternatives_in_autograde():
    for chapter in CHAPTERS:
        found = alternatives_of(chapter)
        assert sorted(found) == sorted(exercises_of(chapter)), f"{chapter}: keyed by the exercises' keys"
        assert all(len(codes) >= 2 for codes in found.values())
    assert alternatives.ALTERNATIVES_DIR == ROOT / "autograde" / "alternatives"


@pytest.mark.parametrize(
    "chapter",
    [
        "../02_transformer_anatomy",
        "02_transformer_anatomy/../x",
        "99_nowhere",
        "ch02",
        "llmcourse.grading.ch02",
        "",
        "02_Transformer",
        None,
        Path("02_transformer_anatomy"),
    ],
)
def test_the_file_read_is_named_by_a_known_chapter_only(chapter):
    with pytest.raises(ValueError, match="not a chapter"):
        alternatives_of(chapter)


def test_the_folder_of_a_chapter():
    assert alternatives.alternatives_dir("02_transformer_anatomy") == ROOT / "autograde" / "alternatives" / "ch02"


def test_without_autograde_a_chapter_has_none(monkeypatch, tmp_path):
    monkeypatch.setattr(alternatives, "ALTERNATIVES_DIR", tmp_path / "site-packages" / "autograde" / "alternatives")
    assert alternatives_of("02_transformer_anatomy") == {}


def test_the_files_are_read_never_run(monkeypatch, tmp_path):
    monkeypatch.setattr(alternatives, "ALTERNATIVES_DIR", tmp_path)
    alternatives._read.cache_clear()
    ran = tmp_path / "ran"
    answer = tmp_path / "ch02" / "attention" / "writes_a_file.py"
    answer.parent.mkdir(parents=True)
    answer.write_text(f'"""Writes a file when run."""\n\nopen({str(ran)!r}, "w").write("x")\n')
    assert alternatives_of("02_transformer_anatomy") == {"attention": (f'open({str(ran)!r}, "w").write("x")\n',)}
    assert not ran.exists()
    (tmp_path / "ch03" / "block").mkdir(parents=True)
    (tmp_path / "ch03" / "block" / "no_docstring.py").write_text("def block(): pass\n")
    with pytest.raises(ValueError, match="docstring"):
        alternatives_of("03_gpt_deep_dive")
    alternatives._read.cache_clear()


# ---------------------------------------------------------------- not shipped


def reachable_strings(module: types.ModuleType) -> list[str]:
    """Every string reachable from ``module``'s attributes: containers, the course's objects
    (exercises, mistakes, classes), functions' constants, defaults and closures."""
    found, seen, stack = [], set(), list(vars(module).values())
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, (dict, types.MappingProxyType)):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack += list(value)
        elif isinstance(value, types.CodeType):
            stack += list(value.co_consts)
        elif isinstance(value, functools.partial):
            stack += [value.func, *value.args, *value.keywords.values()]
        elif isinstance(value, types.FunctionType):
            if value.__module__.startswith("llmcourse"):
                stack += [value.__code__, value.__defaults__ or (), value.__kwdefaults__ or {}]
                stack += [cell.cell_contents for cell in value.__closure__ or () if cell.cell_contents is not None]
        elif isinstance(value, type):
            if value.__module__ == module.__name__:
                stack += list(vars(value).values())
        elif type(value).__module__.startswith("llmcourse") and not isinstance(value, types.ModuleType):
            stack += (
                [getattr(value, f.name) for f in dataclasses.fields(value)] if dataclasses.is_dataclass(value) else []
            )
            stack += list(getattr(value, "__dict__", {}).values())
    return found


def test_the_students_import_holds_no_alternative():
    """No alternative's text is in a file of the package (as written, or as a string constant once
    parsed: escapes), nor reachable from ``llmcourse.grading.chNN``, nor in a student edition."""
    files = {}
    for path in sorted((ROOT / "llmcourse").rglob("*.py")):
        text = path.read_text()
        files[path.relative_to(ROOT).as_posix()] = [
            text,
            *(
                node.value
                for node in ast.walk(ast.parse(text))
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
            ),
        ]
    editions = {
        chapter: [cell.source for cell in nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4).cells]
        for chapter in CHAPTERS
    }
    imported = {chapter: reachable_strings(importlib.import_module(checks_module(chapter))) for chapter in CHAPTERS}
    assert sum(map(len, imported.values())) > 1000  # the walk does reach the exercises' messages and code
    shipped = []
    for chapter, key, i, code in all_alternatives():
        text = code.strip()
        where = [name for name, texts in files.items() if any(text in t for t in texts)]
        where += [f"chapters/{chapter}.ipynb" for source in editions[chapter] if text in source]
        where += [f"{checks_module(chapter)} (imported)" for s in imported[chapter] if text in s][:1]
        if where:
            shipped.append(f"{chapter}/{key} alternative {i + 1}: {', '.join(sorted(set(where)))}")
    assert not shipped, "\n".join(shipped)
    assert len(all_alternatives()) >= 60


def test_checks_modules_have_no_alternatives_left():
    """``Exercise.alternatives`` stays only for the old release snapshots that pass it."""
    for chapter in CHAPTERS:
        module = importlib.import_module(checks_module(chapter))
        assert all(exercise.alternatives == () for exercise in module.EXERCISES.values())
        package = Path(module.__file__).parent
        assert not [p for p in package.glob("*.py") if "alternatives=" in p.read_text()]
        assert not [name for name in vars(module) if "ALTERNATIVE" in name.upper()]


def test_autograde_is_not_part_of_the_installed_package():
    """What a student's ``pip install`` builds: the packages pyproject.toml's discovery finds and
    their package data (read from the configuration, nothing is built)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    find = config["packages"]["find"]
    packages = setuptools.find_packages(
        where=str(ROOT / find.get("where", ["."])[0]),
        include=find.get("include", ["*"]),
        exclude=find.get("exclude", ()),
    )
    assert "llmcourse.grading" in packages
    assert all(p == "llmcourse" or p.startswith("llmcourse.") for p in packages), packages
    assert all(p == "llmcourse" or p.startswith("llmcourse.") for p in config.get("package-data", {})), config[
        "package-data"
    ]
    assert not (ROOT / "MANIFEST.in").exists() or "autograde" not in (ROOT / "MANIFEST.in").read_text()
    assert "setuptools_scm" not in (ROOT / "pyproject.toml").read_text()  # it would put every tracked file in the sdist
    assert (
        alternatives.ALTERNATIVES_DIR.parent.parent == alternatives.GRADING_DIR.parents[1]
    )  # beside the package, not in it


def test_the_sandbox_cannot_read_the_alternatives(tmp_path):
    """The Landlock policy of every exercise's student process: no folder it may read or list
    holds ``autograde/``, and no file it may read is in it."""
    instructor = (ROOT / "autograde").resolve()
    for chapter in CHAPTERS:
        checks = checks_module(chapter)
        for key, exercise in exercises_of(chapter).items():
            policy, _ = isolation.policy_for(exercise, runner_of(chapter, checks, key), str(tmp_path))
            folders = [Path(p).resolve() for p in (*policy.read_dirs, *policy.list_dirs, policy.scratch)]
            assert not [p for p in folders if instructor.is_relative_to(p) or p.is_relative_to(instructor)], (
                chapter,
                key,
            )
            assert not [f for f in policy.read_files if Path(f).resolve().is_relative_to(instructor)], (chapter, key)
