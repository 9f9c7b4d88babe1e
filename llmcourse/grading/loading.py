"""Loading what a declaration names: a chapter's checks module and ``"module:qualname"`` targets."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from llmcourse.grading.declarations import Exercise

GRADING_DIR = Path(__file__).resolve().parent


def load_checks(ref: str) -> Any:
    """A chapter's checks module: a module name (``llmcourse.grading.ch02``) or, for the checks
    of an earlier release, ``file:<path>`` of the snapshot ``make release`` kept."""
    import importlib
    import importlib.util
    import sys

    if not ref.startswith("file:"):
        return importlib.import_module(ref)
    path = ref.removeprefix("file:")
    name = "llmcourse_release_" + "".join(ch if ch.isalnum() else "_" for ch in path)
    if name not in sys.modules:
        spec = cast("importlib.machinery.ModuleSpec", importlib.util.spec_from_file_location(name, path))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        cast("importlib.abc.Loader", spec.loader).exec_module(module)
    return sys.modules[name]


def load_qualname(target: str) -> Any:
    """``"package.module:Name.attr"`` -> the object."""
    import importlib

    module, _, qualname = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def checks_module(chapter: str) -> str:
    """``"02_transformer_anatomy"`` -> ``"llmcourse.grading.ch02"``."""
    return f"llmcourse.grading.ch{chapter[:2]}"


def checks_sha256(checks: str) -> str:
    """The sha256 of a checks module's file (``llmcourse.grading.chNN``) and of its runners
    (``llmcourse.grading.runners.chNN``) on this machine: what decides a chapter's grades."""
    name = checks.rsplit(".", 1)[-1]
    digest = hashlib.sha256((GRADING_DIR / f"{name}.py").read_bytes())
    runners = GRADING_DIR / "runners" / f"{name}.py"
    if runners.is_file():
        digest.update(runners.read_bytes())
    return digest.hexdigest()


def runner_of(chapter: str, checks: str, key: str) -> str:
    """``"module:qualname"`` of an exercise's runner, what the student's process imports to call
    the answer. A release's snapshot (``file:...``) is run by the chapter's current runner of the
    same exercise: the student's process never loads a checks module."""
    current = checks_module(chapter) if checks.startswith("file:") else checks
    run = load_checks(current).EXERCISES[key].run
    return f"{run.__module__}:{run.__qualname__}"


def exercises_of(chapter: str, checks: str | None = None) -> dict[str, Exercise]:
    """The exercises of a chapter: its current checks, or ``checks`` (a release's snapshot)."""
    return load_checks(checks or checks_module(chapter)).EXERCISES
