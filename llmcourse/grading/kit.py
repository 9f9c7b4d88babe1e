"""The small tools every chapter's checks share: seeded generators and catalogued mistakes
written as "the reference with this change".

Checks modules (``llmcourse/grading/chNN.py``) import these instead of keeping copies; the
student-side runners have theirs in :mod:`llmcourse.grading.runners` (``one_thread``).
"""

from __future__ import annotations

import torch

from llmcourse.grading.declarations import Mistake


def seeded(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: each case draws its inputs from its own stream, so
    adding a case changes no other case's inputs."""
    return torch.Generator().manual_seed(seed)


def variant(code: str, *replacements: tuple[str, str]) -> str:
    """``code`` (a reference answer's source) with each ``old`` replaced by ``new``: one
    catalogued mistake. Each ``old`` must occur exactly once, so a reference that changes cannot
    silently turn a mistake into a second copy of the reference."""
    for old, new in replacements:
        if code.count(old) != 1:
            raise ValueError(f"{old!r} occurs {code.count(old)} times in the template")
        code = code.replace(old, new)
    return code


def mistakes(entries: list[tuple[str, str, str]]) -> tuple[Mistake, ...]:
    """``(id, message, code)`` rows -> the exercise's mistake catalogue."""
    return tuple(Mistake(mistake_id, message, code) for mistake_id, message, code in entries)
