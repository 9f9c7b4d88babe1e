"""Defence in depth: the grader's secrets never reach a file it writes.

The student's process gets an allow-listed environment and cannot read ``.env`` (see
:mod:`~llmcourse.grading.isolation`), so it should never see a secret. Should one get through
(``--no-isolation``, a future mistake), every result is redacted before anything is written from
it: feedback pages, logs, ``results/``, ``grades.csv`` and the exports all come from results.

A secret is the value of a variable of the grader's environment whose name says so (``KEY``,
``TOKEN``, ``SECRET``, ``PASSWORD``, ``CREDENTIAL``) and every value in the course folder's
``.env`` files.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASS|CREDENTIAL", re.IGNORECASE)
MIN_LENGTH = 6  # shorter values ("1", "true") are not secrets and would redact half a log
MARK = "[redacted]"


def _dotenv_values(path: Path) -> list[str]:
    try:
        from dotenv import dotenv_values
    except ImportError:  # python-dotenv is a course dependency; without it, read KEY=VALUE lines
        lines = path.read_text(errors="replace").splitlines()
        pairs = (line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#"))
        return [value.strip().strip("'\"") for _, value in pairs]
    return [v for v in dotenv_values(path).values() if v]


def secret_values(environ: Mapping[str, str] | None = None, env_files: Iterable[Path] = ()) -> list[str]:
    """The secrets to redact, longest first (a secret containing another is replaced whole)."""
    environ = os.environ if environ is None else environ
    found = {v for k, v in environ.items() if SECRET_NAME.search(k)}
    for path in env_files:
        if path.is_file():
            found.update(_dotenv_values(path))
    return sorted((v for v in found if len(v) >= MIN_LENGTH), key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MARK)
    return text


def redact_fields(obj, secrets: list[str]):
    """A copy of a dataclass (a result) with every string in it, at any depth, redacted."""
    if not secrets:
        return obj
    if isinstance(obj, str):
        return redact(obj, secrets)
    if isinstance(obj, list):
        return [redact_fields(x, secrets) for x in obj]
    if isinstance(obj, dict):
        return {k: redact_fields(v, secrets) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(
            obj, **{f.name: redact_fields(getattr(obj, f.name), secrets) for f in dataclasses.fields(obj) if f.init}
        )
    return obj
