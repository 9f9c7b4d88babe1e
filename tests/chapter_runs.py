"""The chapter executions the tests read, queued when the session starts and run beside it.

Three test files read executed chapters: the book (test_book.py and test_browser.py: every
student edition, built as `make book` builds it), the Colab drift runs (test_colab_drift.py:
every solution notebook on the oldest allowed releases) and the figures' twice-run chapters
(test_figures.py). Those are about 850 CPU-seconds of PyTorch in other processes, while the rest
of the suite is mostly a serial stream of short tests in pytest's own process, which leaves one
core of two idle.

So in a run without pytest-xdist, as soon as collection ends (``pytest_collection_finish`` in
conftest.py) the session queues every execution its selected tests need and runs them one at a
time beside the stream of tests; the files that read them run last. The first test that waits
for one opens the queue to one run per core, since the stream has nothing left to run. Under
pytest-xdist nothing is queued ahead: a worker submits its file's runs when its tests need them,
one per core of its share.

A test module that reads chapter runs defines ``chapter_jobs(scratch: Path) -> {key: job}``
(each job a function of no arguments, called in a thread of the queue; :func:`command` makes
one that runs a command) and its fixture reads them through :func:`submitted`; the book's job is
conftest.py's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

Job = Callable[[], Any]


def at_once() -> int:
    """How many runs at once: one per core of this process's share of them (all of them without
    pytest-xdist)."""
    return max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))


class ChapterRuns:
    """A queue of jobs, run in submission order, ``slots`` at a time, and ``wide`` at a time
    once a test has waited for one."""

    def __init__(self, slots: int, wide: int) -> None:
        self.slots, self.wide = slots, max(slots, wide)
        self._pending: list[tuple[Future, Job]] = []
        self._futures: dict[Hashable, Future] = {}
        self._running = 0
        self._processes: set[subprocess.Popen] = set()
        self._closed = False
        self._lock = threading.Condition()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.wide)]
        for thread in self._threads:
            thread.start()

    def submit(self, key: Hashable, job: Job) -> Future:
        """Queue ``job`` under ``key`` unless a job already has that key; the key's future."""
        with self._lock:
            if key not in self._futures:
                future: Future = Future()
                self._futures[key] = future
                self._pending.append((future, job))
                self._lock.notify_all()
            return self._futures[key]

    def result(self, key: Hashable) -> Any:
        """Wait for the job of ``key`` (the queue runs ``wide`` at a time from now on)."""
        with self._lock:
            future = self._futures[key]
            if self.slots < self.wide:
                self.slots = self.wide
                self._lock.notify_all()
        return future.result()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not (self._pending and self._running < self.slots):
                    self._lock.wait()
                if self._closed:
                    return
                future, job = self._pending.pop(0)
                self._running += 1
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as error:  # noqa: BLE001 - handed to the test that reads it
                    future.set_exception(error)
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    def run(
        self, command: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 1200
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` with its output captured, on one thread unless ``env`` says otherwise;
        stopped by :meth:`close` (with its process group) if the session ends first."""
        environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
        with self._lock:
            if self._closed:
                raise RuntimeError("the test session ended before this run started")
            process = subprocess.Popen(
                list(command), env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                start_new_session=True,
            )  # fmt: skip
            self._processes.add(process)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            stdout, stderr = process.communicate()
            stderr += f"\n(stopped after {timeout:.0f} s)"
        finally:
            with self._lock:
                self._processes.discard(process)
        return subprocess.CompletedProcess(list(command), process.returncode, stdout, stderr)

    def close(self) -> None:
        """Cancel the queued jobs and stop the running processes."""
        with self._lock:
            self._closed = True
            for future, _ in self._pending:
                future.cancel()
            self._pending.clear()
            for process in self._processes:
                _stop(process)
            self._lock.notify_all()


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the notebook and the kernels it started
    except (ProcessLookupError, PermissionError):
        pass


_session: ChapterRuns | None = None


def session_runs(ahead: bool = False) -> ChapterRuns:
    """This process's queue: one run beside the tests when ``ahead`` (a single-process session
    queueing at its start), else one per core of its share from the start."""
    global _session
    if _session is None:
        _session = ChapterRuns(slots=1 if ahead else at_once(), wide=at_once())
    return _session


def close_session_runs() -> None:
    global _session
    if _session is not None:
        _session.close()
        _session = None


def scratch_folder(basetemp: Path) -> Path:
    """Where the chapter runs of a session write their files (under its base temporary folder)."""
    folder = basetemp / "chapter-runs"
    folder.mkdir(exist_ok=True)
    return folder


class Run:
    """A queued job of a test module; :meth:`result` waits for it."""

    def __init__(self, runs: ChapterRuns, key: Hashable) -> None:
        self._runs, self._key = runs, key

    def result(self) -> Any:
        """The job's return value (or its exception, raised), once it has run; while a test waits,
        the queue runs one job per core."""
        return self._runs.result(self._key)


def submitted(module: str, jobs: Mapping[Hashable, Job]) -> dict[Hashable, Run]:
    """A test module's jobs, each submitted unless the session queued it already."""
    runs = session_runs()
    for key, job in jobs.items():
        runs.submit((module, key), job)
    return {key: Run(runs, (module, key)) for key in jobs}


def command(argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 1200) -> Job:
    """A job that runs ``argv`` (see :meth:`ChapterRuns.run`) and returns its completed process."""
    return lambda: session_runs().run(argv, env, timeout)
