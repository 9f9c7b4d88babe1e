"""Loading what a declaration names: a chapter's checks module and ``"module:qualname"`` targets."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from llmcourse.grading.declarations import Exercise

GRADING_DIR = Path(__file__).resolve().parent


def load_checks(ref: str) -> Any:
    """A chapter's checks: a module name (``llmcourse.grading.ch02``) or, for the checks of an
    earlier release, ``file:<path>`` of its snapshot: a module file (releases before v0.4.0) or a
    package folder (``chNN/``, whose modules import each other relatively, so the snapshot's own
    files are the ones imported)."""
    import importlib
    import importlib.util
    import sys

    if not ref.startswith("file:"):
        return importlib.import_module(ref)
    path = Path(ref.removeprefix("file:"))
    name = "llmcourse_release_" + "".join(ch if ch.isalnum() else "_" for ch in str(path))
    if name not in sys.modules:
        if path.is_dir():
            found = importlib.util.spec_from_file_location(
                name, path / "__init__.py", submodule_search_locations=[str(path)]
            )
        else:
            found = importlib.util.spec_from_file_location(name, path)
        spec = cast("importlib.machinery.ModuleSpec", found)
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
    """The sha256 of a chapter's checks (``llmcourse.grading.chNN``: its package's files, or the
    module file of earlier releases) and of its runners (``llmcourse.grading.runners.chNN``) on
    this machine: what decides a chapter's grades."""
    name = checks.rsplit(".", 1)[-1]
    runners = GRADING_DIR / "runners" / f"{name}.py"
    return checks_digest(
        checks_files(GRADING_DIR / name)
        if (GRADING_DIR / name / "__init__.py").is_file()
        else (GRADING_DIR / f"{name}.py").read_bytes(),
        runners.read_bytes() if runners.is_file() else None,
    )


def checks_files(package: Path) -> dict[str, bytes]:
    """The files of a chapter's checks package that make its version: every ``.py`` file under
    ``package`` (its exercises and their mistakes), by path relative to it."""
    return {
        p.relative_to(package).as_posix(): p.read_bytes()
        for p in sorted(package.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def checks_digest(checks: bytes | Mapping[str, bytes], runners: bytes | None) -> str:
    """The sha256 of a chapter's checks, a module's bytes or a package's files (path -> bytes),
    and of its runners' bytes. A module hashes as it always has, so earlier stamps still resolve;
    a package hashes each file's path and length with its bytes, so no two trees share a hash."""
    if isinstance(checks, bytes):
        digest = hashlib.sha256(checks)
    else:
        digest = hashlib.sha256(b"llmcourse checks package\0")
        for path in sorted(checks):
            content = checks[path]
            digest.update(f"{path}\0{len(content)}\0".encode())
            digest.update(content)
    if runners is not None:
        digest.update(runners)
    return digest.hexdigest()


def pack_checks(path: Path) -> bytes:
    """A release's snapshot as bytes to send to a worker: a module file's bytes, or a package
    folder as a zip archive (see :func:`unpack_checks`)."""
    if not path.is_dir():
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in checks_files(path).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def unpack_checks(packed: bytes, where: Path) -> Path:
    """Write what :func:`pack_checks` made under ``where`` (a path without suffix): a package
    folder ``where/`` for a zip archive, else the module ``where.py``. Returns that path."""
    import os

    if not packed.startswith(b"PK\x03\x04"):
        target = where.with_suffix(".py")
        if not target.exists():
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(packed)
            partial.replace(target)
        return target
    if not where.is_dir():
        with zipfile.ZipFile(io.BytesIO(packed)) as archive:
            write_tree({name: archive.read(name) for name in archive.namelist()}, where)
    return where


def write_tree(files: Mapping[str, bytes], where: Path) -> Path:
    """Write ``files`` (relative path -> bytes) into the new folder ``where``, all at once: into a
    temporary folder first, then renamed, so a reader sees the whole tree or none of it. Paths
    must be plain relative ones (no ``..``, no absolute path)."""
    import os
    import shutil

    partial = where.with_name(f"{where.name}.{os.getpid()}.tmp")
    shutil.rmtree(partial, ignore_errors=True)
    for name, content in files.items():
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or not name.endswith(".py"):
            raise ValueError(f"not a file of a checks package: {name!r}")
        (partial / relative).parent.mkdir(parents=True, exist_ok=True)
        (partial / relative).write_bytes(content)
    try:
        partial.rename(where)
    except OSError:  # another process wrote it first: theirs is the same content
        shutil.rmtree(partial, ignore_errors=True)
    return where


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
