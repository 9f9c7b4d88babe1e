"""The checks of earlier releases, found in git (or in release wheels), never kept as copies.

``make release`` tags each release ``v<version>`` and stamps every student notebook with that tag
and with its chapter's checks version: the first 12 hex digits of the sha256 of the chapter's
checks package ``llmcourse/grading/chNN/`` (its module ``chNN.py`` before v0.4.0) and of
``llmcourse/grading/runners/chNN.py`` (what decides the grades; ``loading.checks_digest``).
A submission of an earlier release is graded with that release's checks, which
:meth:`ReleaseChecks.find` looks up, in this order:

1. the cache, ``<cache>/<chapter>/<version>/`` (a package) or ``<version>.py``: addressed by the
   version, itself a hash of the content (only the grader writes there; students' processes cannot
   read or write it);
2. the stamped tag, then every ``v*`` tag, newest first (``git show <tag>:<path>``);
3. the history of ``autograde/releases/<chapter>/<version>.py``, where releases were copied before
   the tags (the commit that added the copy still holds it);
4. every commit that changed the chapter's checks or runners, newest first: a clone that came
   without its tags (or a release whose tag was never pushed) still grades by what the commit holds;
5. release wheels (``*.whl``) in ``wheels``, for a course directory outside a git checkout.

A stamp is a value compared with what git holds, never a path or a command: a version must be 12 hex
digits and a tag ``v<major>.<minor>.<patch>``, or they are ignored.
"""

from __future__ import annotations

import os
import re
import subprocess
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from llmcourse.grading.loading import checks_digest, write_tree

VERSION = re.compile(r"[0-9a-f]{12}")
TAG = re.compile(r"v\d+\.\d+\.\d+")
CHAPTER = re.compile(r"\d\d_[a-z0-9_]+")


Checks = bytes | Mapping[str, bytes]  # a module's bytes, or a package's files by relative path


def checks_paths(chapter: str) -> tuple[str, str]:
    """The repository paths whose bytes make a chapter's checks version: its checks module (the
    package ``chNN/`` with that path's suffix dropped) and its runners."""
    return f"llmcourse/grading/ch{chapter[:2]}.py", f"llmcourse/grading/runners/ch{chapter[:2]}.py"


def checks_version_of(checks: Checks, runners: bytes | None) -> str:
    """The 12-digit version of a chapter's checks (a module's bytes or a package's files) and its
    runners' bytes, as ``loading.checks_sha256`` computes it on the working tree."""
    return checks_digest(checks, runners)[:12]


def _package_files(names: list[str], package: str, read) -> dict[str, bytes] | None:
    """The ``.py`` files under ``package/`` among ``names`` (paths in a tree), read with ``read``;
    None when there are none or one cannot be read."""
    files = {}
    for name in names:
        if name.startswith(package) and name.endswith(".py") and "__pycache__" not in name:
            content = read(name)
            if content is None:
                return None
            files[name.removeprefix(package)] = content
    return files or None


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


def _blobs(repo: Path, ref: str, paths: list[str]) -> dict[str, bytes]:
    """The contents of ``paths`` at ``ref``, read by one ``git cat-file --batch``; a path that is not
    there (or not a file) is left out."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "cat-file", "--batch"],
            input="".join(f"{ref}:{p}\n" for p in paths).encode(),
            capture_output=True,
            timeout=60,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out, at, contents = done.stdout, 0, {}
    for p in paths:  # each answer: "<sha> <type> <size>\n<content>\n", or "<name> missing\n"
        end = out.find(b"\n", at)
        if end < 0:
            break
        header = out[at:end].split()
        at = end + 1
        if len(header) == 3 and header[2].isdigit():
            size = int(header[2])
            if header[1] == b"blob":
                contents[p] = out[at : at + size]
            at += size + 1
    return contents


@dataclass
class ReleaseChecks:
    """Where the checks of earlier releases come from: a git repository, a cache folder, wheels."""

    repo: Path
    cache: Path
    wheels: Path | None = None

    def find(self, chapter: str, version: str, tag: str | None = None) -> tuple[Path | None, str]:
        """The checks (a module file or a package folder) of ``chapter`` whose version is
        ``version`` and where they were found, or (None, why not). ``tag`` (the notebook's stamp)
        is tried first."""
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
        package = path.removesuffix(".py") + "/"
        changed = _git(self.repo, "log", "--all", "--format=%H", "--", path, package, runners) or b""
        for changed_in in changed.decode().split():
            yield f"commit {changed_in[:10]}", self._at(changed_in, path, runners, version)
        for wheel in sorted(self.wheels.glob("*.whl")) if self.wheels and self.wheels.is_dir() else []:
            yield f"wheel {wheel.name}", self._in_wheel(wheel, path, runners, version)

    def _at(self, ref: str, path: str, runners: str, version: str) -> Checks | None:
        package = path.removesuffix(".py") + "/"
        listed = (_git(self.repo, "ls-tree", "-r", "--name-only", ref, "--", package) or b"").decode().split()
        blobs = _blobs(self.repo, ref, [*listed, path, runners])
        checks: Checks | None = _package_files(listed, package, blobs.get)
        if checks is None:
            checks = blobs.get(path)
        if checks is None:
            return None
        return checks if checks_version_of(checks, blobs.get(runners)) == version else None

    @staticmethod
    def _in_wheel(wheel: Path, path: str, runners: str, version: str) -> Checks | None:
        package = path.removesuffix(".py") + "/"
        try:
            with zipfile.ZipFile(wheel) as archive:
                names = archive.namelist()
                checks: Checks | None = _package_files(names, package, archive.read)
                if checks is None and path in names:
                    checks = archive.read(path)
                if checks is None:
                    return None
                runner_bytes = archive.read(runners) if runners in names else None
        except (OSError, zipfile.BadZipFile, KeyError):
            return None
        return checks if checks_version_of(checks, runner_bytes) == version else None

    def _cached(self, chapter: str, version: str) -> Path | None:
        for path in (self.cache / chapter / version, self.cache / chapter / f"{version}.py"):
            if path.exists():
                return path
        return None

    def _store(self, chapter: str, version: str, checks: Checks) -> Path:
        (self.cache / chapter).mkdir(parents=True, exist_ok=True)
        if not isinstance(checks, bytes):
            return write_tree(checks, self.cache / chapter / version)
        path = self.cache / chapter / f"{version}.py"
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
