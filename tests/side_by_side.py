"""Chapter notebooks run side by side, as `make book` executes them (book/build.py).

A chapter's PyTorch gains little from a second thread on this machine's small matrices (chapter
03: 102 s on two threads, 122 s on one), so on 2 cores two chapters at one thread each finish
sooner than one after the other at two threads each. Each test file submits its runs at once and
each test waits for its own; under pytest-xdist the cores are shared out between the workers.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

Key = TypeVar("Key")


def at_once() -> int:
    """How many runs at once: one per core of this process's share of them (all of them without
    pytest-xdist)."""
    return max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))


@contextmanager
def side_by_side(
    commands: Mapping[Key, Sequence[str]], env: Mapping[str, str] | None = None, timeout: float = 1200
) -> Iterator[dict[Key, Future[subprocess.CompletedProcess[str]]]]:
    """Start every command, ``at_once()`` at a time, each on one thread; yields each command's
    future (its completed process, output captured)."""
    environment = {**os.environ, **(env or {}), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    def run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(command), env=environment, capture_output=True, text=True, timeout=timeout)

    with ThreadPoolExecutor(max_workers=at_once()) as pool:
        futures = {key: pool.submit(run, command) for key, command in commands.items()}
        try:
            yield futures
        finally:
            for future in futures.values():
                future.cancel()  # those not started yet, when a test module stops early
