"""The student's side of the trust boundary: one process per (submission, exercise).

The engine forks this process from a server that has imported torch and the chapter's checks
but run no parallel torch operation (forking after one can hang the child). The process:

- puts itself in its own process group, caps its memory, file size and threads, and leaves the
  network where the platform allows (a new, empty network namespace);
- sends its output to a capped log file;
- runs the notebook's set-up cells, the solution cells the exercise depends on and the
  exercise's own cell (IPython syntax such as ``%matplotlib`` is translated; ``get_ipython()``
  is a stand-in, so changing how later cells run changes nothing);
- swaps in trusted stand-ins for the exercise's dependencies;
- runs the student's answer on each case's inputs with the runtime guards on, and sends the
  results back as JSON bytes: plain data only, never an object.

Nothing this process sends can run code in the grader's process; the grader decides.
"""
from __future__ import annotations

import ctypes
import io
import json
import os
import pickle
import resource
import signal
import sys
from dataclasses import dataclass
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
TRIM_MARK = "\n[output trimmed by the grader]\n"


@dataclass
class Cell:
    label: str  # e.g. "setup 2" or the nbgrader grade_id
    source: str
    answer: bool  # the exercise's own cell (no soft time limit: the hard one applies)


@dataclass
class Job:
    """Everything the student's process gets: no expected values."""

    chapter: str  # the checks: "llmcourse.grading.ch02", or "file:<snapshot of a release>"
    exercise: str
    cells: list[Cell]
    inputs: list[Any]
    log_path: str
    memory_bytes: int = 4 << 30
    output_bytes: int = 64 << 10
    cell_seconds: float = 10.0
    cut_network: bool = True


class _CellTimeout(BaseException):
    pass


class _CappedWriter(io.TextIOBase):
    """sys.stdout / sys.stderr: writes to the log until ``limit`` characters, then drops."""

    def __init__(self, stream, limit: int) -> None:
        self.stream, self.left = stream, limit

    def write(self, text: str) -> int:
        if self.left > 0:
            piece = text[: self.left]
            self.left -= len(piece)
            self.stream.write(piece + (TRIM_MARK if self.left <= 0 else ""))
            self.stream.flush()
        return len(text)

    def writable(self) -> bool:
        return True


class _Anything:
    """``get_ipython()`` in the sandbox: every attribute and call is accepted and does nothing."""

    def __getattr__(self, name: str) -> _Anything:
        return self

    def __call__(self, *args, **kwargs) -> _Anything:
        return self

    def __iter__(self):
        return iter(())


def _cut_network() -> str:
    libc = ctypes.CDLL(None, use_errno=True)
    for flags in (CLONE_NEWNET, CLONE_NEWUSER | CLONE_NEWNET):
        if libc.unshare(flags) == 0:
            return "cut"
    return "available"


def _limit(memory_bytes: int, output_bytes: int) -> None:
    with open("/proc/self/status") as f:
        vm_kib = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    cap = vm_kib * 1024 + memory_bytes  # what the process already maps, plus the allowance
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * output_bytes, 16 * output_bytes))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the cap fail instead of killing


def _python_of(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def run_job(job_bytes: bytes, conn) -> None:
    """Entry point of the student's process (``multiprocessing`` target): ``job_bytes`` is the
    pickled :class:`Job` (from the grader, so safe to load). Never returns."""
    job: Job = pickle.loads(job_bytes)
    def send(message: dict) -> None:
        conn.send_bytes(json.dumps(message).encode())

    try:
        os.setpgrp()
        network = _cut_network() if job.cut_network else "available"
        import torch

        torch.set_num_threads(1)
        log = open(job.log_path, "w", buffering=1, encoding="utf-8", errors="replace")
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = _CappedWriter(log, job.output_bytes)
        sys.stderr = sys.stdout
        _limit(job.memory_bytes, job.output_bytes)
        send({"type": "start", "network": network})
        # Bound before any student code runs: patching these modules later changes nothing here.
        from llmcourse.grading.contract import load_checks, load_qualname, run_cases

        exercise = load_checks(job.chapter).EXERCISES[job.exercise]
        from llmcourse.grading.guards import ForbiddenCall, Guard
    except BaseException as exc:  # noqa: BLE001 - a broken sandbox is reported, not hidden
        send({"type": "sandbox-error", "error": f"{type(exc).__name__}: {exc}"})
        os._exit(3)

    namespace: dict[str, Any] = {"__name__": "__main__", "get_ipython": _Anything()}

    def on_alarm(signum, frame):
        raise _CellTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    for cell in job.cells:
        try:
            code = compile(_python_of(cell.source), f"<cell {cell.label}>", "exec")
            if not cell.answer:
                signal.setitimer(signal.ITIMER_REAL, job.cell_seconds)
            exec(code, namespace)  # noqa: S102 - the student's code, in the student's process
        except _CellTimeout:
            send({"type": "cell", "cell": cell.label, "error": f"still running after {job.cell_seconds:g} s: stopped"})
        except BaseException as exc:  # noqa: BLE001 - SystemExit included: the exercise goes on
            if isinstance(exc, MemoryError):
                send({"type": "cell", "cell": cell.label, "error": "MemoryError: ran out of memory"})
            else:
                send({"type": "cell", "cell": cell.label, "error": f"{type(exc).__name__}: {str(exc)[:300]}"})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    try:
        for name, target in exercise.depends.items():
            namespace[name] = load_qualname(target)
        answer = namespace.get(exercise.name)
        if answer is None:
            send({"type": "result", "missing": True})
        else:
            guard = lambda: Guard(exercise.forbidden, report=lambda name: send({"type": "forbidden", "name": name}))  # noqa: E731
            try:
                results = run_cases(exercise, answer, job.inputs, guard)
                send({"type": "result", "results": results})
            except ForbiddenCall as exc:
                send({"type": "forbidden", "name": exc.name})
                send({"type": "result", "forbidden": True})
    except MemoryError:
        send({"type": "result", "oom": True})
    except BaseException as exc:  # noqa: BLE001
        send({"type": "result", "crashed": f"{type(exc).__name__}: {str(exc)[:300]}"})
    finally:
        try:
            sys.stdout.flush()
        finally:
            os._exit(0)
