"""The checks of earlier releases, found in git (or in release wheels), never kept as copies.

``make release`` tags each release ``v<version>`` and stamps every student notebook with that tag
and with its chapter's checks version: the first 12 hex digits of the sha256 of
``llmcourse/grading/chNN.py`` and ``llmcourse/grading/runners/chNN.py`` (what decides the grades).
A submission of an earlier release is graded with that release's checks, which
:meth:`ReleaseChecks.find` looks up, in this order:

1. the cache, ``<cache>/<chapter>/<version>.py``: addressed by the version, itself a hash of the
   content (only the grader writes there; students' processes cannot read or write it);
2. the stamped tag, then every ``v*`` tag, newest first (``git show <tag>:<path>``);
3. the history of ``autograde/releases/<chapter>/<version>.py``, where releases were copied before
   the tags (the commit that added the copy still holds it);
4. release wheels (``*.whl``) in ``wheels``, for a course directory outside a git checkout.

A stamp is a value compared with what git holds, never a path or a command: a version must be 12 hex
digits and a tag ``v<major>.<minor>.<patch>``, or they are ignored.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

VERSION = re.compile(r"[0-9a-f]{12}")
TAG = re.compile(r"v\d+\.\d+\.\d+")
CHAPTER = re.compile(r"\d\d_[a-z0-9_]+")


def checks_paths(chapter: str) -> tuple[str, str]:
    """The repository paths whose bytes make a chapter's checks version."""
    return f"llmcourse/grading/ch{chapter[:2]}.py", f"llmcourse/grading/runners/ch{chapter[:2]}.py"


def checks_version_of(checks: bytes, runners: bytes | None) -> str:
    """The 12-digit version of a checks module's bytes and its runners' (as ``loading.checks_sha256``)."""
    digest = hashlib.sha256(checks)
    if runners is not None:
        digest.update(runners)
    return digest.hexdigest()[:12]


def _git(repo: Path, *args: str) -> bytes | None:
    """The output of a read-only git command in ``repo``, or None when it fails (no git, no repository,
    no such object)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            timeout=60,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@dataclass
class ReleaseChecks:
    """Where the checks of earlier releases come from: a git repository, a cache folder, wheels."""

    repo: Path
    cache: Path
    wheels: Path | None = None

    def find(self, chapter: str, version: str, tag: str | None = None) -> tuple[Path | None, str]:
        """The checks file of ``chapter`` whose version is ``version`` and where it was found, or
        (None, why not). ``tag`` (the notebook's stamp) is tried first."""
        if not isinstance(version, str) or not VERSION.fullmatch(version):
            return None, "not a checks version"
        if not CHAPTER.fullmatch(chapter):
            return None, "not a chapter"
        cached = self._cached(chapter, version)
        if cached is not None:
            return cached, "cache"
        for where, checks in self._candidates(chapter, version, tag if isinstance(tag, str) else None):
            if checks is not None:
                return self._store(chapter, version, checks), where
        return None, "not found in git tags, git history or release wheels"

    def _candidates(self, chapter: str, version: str, tag: str | None):
        """(where, checks bytes or None) of each place that may hold the release, lazily."""
        path, runners = checks_paths(chapter)
        tags = (_git(self.repo, "tag", "--list", "v*", "--sort=-v:refname") or b"").decode().split()
        if tag is not None and TAG.fullmatch(tag) and tag in tags:
            tags.remove(tag)
            tags.insert(0, tag)
        for t in tags:
            if TAG.fullmatch(t):
                yield f"tag {t}", self._at(f"refs/tags/{t}", path, runners, version)
        old = f"autograde/releases/{chapter}/{version}.py"
        for commit in (_git(self.repo, "log", "--all", "--format=%H", "--diff-filter=A", "--", old) or b"").split():
            yield f"commit {commit.decode()[:10]}", _git(self.repo, "show", f"{commit.decode()}:{old}")
        for wheel in sorted(self.wheels.glob("*.whl")) if self.wheels and self.wheels.is_dir() else []:
            yield f"wheel {wheel.name}", self._in_wheel(wheel, path, runners, version)

    def _at(self, ref: str, path: str, runners: str, version: str) -> bytes | None:
        checks = _git(self.repo, "show", f"{ref}:{path}")
        if checks is None:
            return None
        return checks if checks_version_of(checks, _git(self.repo, "show", f"{ref}:{runners}")) == version else None

    @staticmethod
    def _in_wheel(wheel: Path, path: str, runners: str, version: str) -> bytes | None:
        try:
            with zipfile.ZipFile(wheel) as archive:
                names = set(archive.namelist())
                if path not in names:
                    return None
                checks = archive.read(path)
                runner_bytes = archive.read(runners) if runners in names else None
        except (OSError, zipfile.BadZipFile):
            return None
        return checks if checks_version_of(checks, runner_bytes) == version else None

    def _cached(self, chapter: str, version: str) -> Path | None:
        path = self.cache / chapter / f"{version}.py"
        return path if path.is_file() else None

    def _store(self, chapter: str, version: str, checks: bytes) -> Path:
        path = self.cache / chapter / f"{version}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(checks)
        partial.replace(path)
        return path


# ---------------------------------------------------------------- making a release


class ReleaseError(RuntimeError):
    """A release that cannot be made as asked (uncommitted checks, a tag that exists, no git)."""


def bumped(version: str, part: str) -> str:
    """``"0.1.0"`` bumped by ``part`` ("major", "minor" or "patch")."""
    major, minor, patch = (int(x) for x in version.split("."))
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    if part == "patch":
        return f"{major}.{minor}.{patch + 1}"
    raise ValueError(f"bump one of major, minor, patch, not {part!r}")


def uncommitted(repo: Path, paths: list[str]) -> list[str]:
    """Which of ``paths`` differ from the last commit (or are untracked) in ``repo``."""
    out = _git(repo, "status", "--porcelain", "--untracked-files=all", "--", *paths)
    if out is None:
        raise ReleaseError(f"{repo} is not a git repository (or git is missing): a release needs one to tag")
    return [line[3:] for line in out.decode().splitlines() if line.strip()]


def commit_and_tag(repo: Path, paths: list[str], tag: str, message: str) -> str:
    """Commit exactly ``paths`` (whatever else is staged stays staged) and tag the commit ``tag``
    (annotated). Returns the commit's hash."""
    if not TAG.fullmatch(tag):
        raise ReleaseError(f"a release tag is v<major>.<minor>.<patch>, not {tag!r}")
    if _git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}") is not None:
        raise ReleaseError(f"tag {tag} exists already: bump the version (make release BUMP=patch)")
    for args in (["add", "--", *paths], ["commit", "--quiet", "-m", message, "--only", "--", *paths]):
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        if done.returncode != 0 and "nothing" not in done.stdout + done.stderr:
            raise ReleaseError(f"git {args[0]} failed: {(done.stderr or done.stdout).strip()}")
    done = subprocess.run(["git", "-C", str(repo), "tag", "-a", tag, "-m", message], capture_output=True, text=True)
    if done.returncode != 0:
        raise ReleaseError(f"git tag {tag} failed: {done.stderr.strip()}")
    return (_git(repo, "rev-parse", "HEAD") or b"").decode().strip()
