"""The student's side of the trust boundary: one process per (submission, exercise).

The engine forks this process from a server that has imported torch and the chapters' runners
(never their checks: this process holds no expected value or oracle) but run no parallel torch
operation (forking after one can hang the child). The process:

- puts itself in its own process group and, unless the instructor turned isolation off, in the
  operating-system sandbox of :mod:`~llmcourse.grading.isolation` (PID, network and mount
  namespaces, Landlock, no root): the student's code runs in the namespace's first process, so
  nothing it starts outlives it;
- caps its memory, file size and threads, and gets a scrubbed environment (``HOME`` and the
  temporary folder are its own scratch directory, no key of the grader's is there);
- sends its output to a capped log file;
- runs the notebook's set-up cells, the solution cells the exercise depends on and the
  exercise's own cell (IPython syntax such as ``%matplotlib`` is translated; ``get_ipython()``
  is a stand-in, so changing how later cells run changes nothing);
- gives the chapter's checks module, the grader's side and the exercise's forbidden references
  stand-ins (a checks module's ``check_*`` do nothing), and swaps every forbidden Python
  function's code for a tripwire before the first cell (:func:`~llmcourse.grading.guards.arm`);
- swaps in trusted stand-ins for the exercise's dependencies;
- runs the student's answer on each case's inputs with the runtime guards on, and sends the
  results back as JSON bytes: plain data only, never an object.

Nothing this process sends can run code in the grader's process; the grader decides.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import resource
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from llmcourse.grading import isolation
from llmcourse.grading.declarations import Forbidden

TRIM_MARK = "\n[output trimmed by the grader]\n"


@dataclass
class Cell:
    label: str  # e.g. "setup 2" or the nbgrader grade_id
    source: str
    answer: bool  # the exercise's own cell (no soft time limit: the hard one applies)
    # The course's own set-up cell, or another exercise's answer: a forbidden call there is not
    # this exercise's.
    quiet: bool = False


@dataclass
class Job:
    """Everything the student's process gets: how to call the answer, never the checks (their
    cases, expected values, oracles, mistakes)."""

    runner: str  # "module:qualname" of the exercise's runner (llmcourse.grading.runners)
    answer_name: str  # the notebook's name of the answer
    cells: list[Cell]
    inputs: list[Any]
    log_path: str
    memory_bytes: int = 4 << 30
    output_bytes: int = 64 << 10
    cell_seconds: float = 10.0
    cut_network: bool = True
    scratch: str = ""  # the only folder it may write (made for this job, deleted after it)
    policy: isolation.Policy | None = None  # None: no OS sandbox (--no-isolation)
    attach: tuple[str, ...] = ()  # paths a hidden home must show (the interpreter's, the course's)
    stand_ins: tuple[str, ...] = ()  # modules replaced by stand-ins (see _StandIns)
    depends: dict[str, str] = field(default_factory=dict)  # answer names -> "module:qualname" trusted stand-ins
    forbidden: Forbidden = field(default_factory=Forbidden)
    forbidden_sources: dict[str, str] = field(default_factory=dict)  # see guards.source_fingerprints


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


class _StandIns:
    """An import hook: the modules the student's process may not load (the chapter's checks,
    the grader's side, the exercise's forbidden references) are stand-ins. A checks module's
    ``check_*`` functions do nothing; anything else of them is not there."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = set(names)

    def find_spec(self, name, path=None, target=None):
        import importlib.machinery

        if name in self.names:
            return importlib.machinery.ModuleSpec(name, self, is_package=False)  # type: ignore[arg-type]  # a loader
        return None

    def create_module(self, spec):
        import types

        module = types.ModuleType(spec.name, "a stand-in: not available while grading")

        def __getattr__(attribute: str):
            if attribute.startswith("check"):
                return lambda *args, **kwargs: None
            if attribute.startswith("__"):
                raise AttributeError(attribute)
            # ImportError (not AttributeError, which `from ... import` would turn into its own
            # message) so that the feedback says why the name is missing.
            raise ImportError(f"{spec.name}.{attribute} is not available while grading (your answer must not use it)")

        module.__getattr__ = __getattr__  # type: ignore[method-assign]  # a module's own (PEP 562)
        return module

    def exec_module(self, module) -> None:
        pass

    def install(self) -> None:
        for name in self.names:  # what the warm server had imported goes: imports now get the stand-in
            sys.modules.pop(name, None)
            parent, _, child = name.rpartition(".")
            if parent in sys.modules and hasattr(sys.modules[parent], child):
                delattr(sys.modules[parent], child)
        sys.meta_path.insert(0, self)


class _Shell:
    """``get_ipython()`` in the sandbox. Magics that only time or capture a cell (``%%time``,
    ``%time``, ``%%capture``) run its code as Jupyter does; the others (``%timeit``, ``!cmd``,
    ``%matplotlib``, ``%%writefile``, ...) are skipped. Any other attribute or call is accepted
    and does nothing, so changing how later cells run changes nothing."""

    RUN_CELL = {"time", "capture", "prun"}

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace

    def run_cell_magic(self, name: str, line: str, cell: str) -> None:
        if name in self.RUN_CELL:
            exec(compile(_python_of(cell), f"<%%{name}>", "exec"), self._namespace)  # noqa: S102 - the student's code, in the student's process

    def run_line_magic(self, name: str, line: str, *args) -> None:
        if name == "time" and line.strip():
            exec(compile(_python_of(line), "<%time>", "exec"), self._namespace)  # noqa: S102

    def __getattr__(self, name: str) -> _Shell:
        return self

    def __call__(self, *args, **kwargs) -> _Shell:
        return self

    def __iter__(self):
        return iter(())


def _cut_network() -> str:
    """(--no-isolation) A network namespace with no interface when the kernel allows one (a user
    namespace first when it needs one): "cut", else "available"."""
    for flags in (isolation.CLONE_NEWNET, isolation.CLONE_NEWUSER | isolation.CLONE_NEWNET):
        try:
            isolation.unshare(flags, "network namespace")
            return "cut"
        except isolation.IsolationError:
            continue
    return "available"


def _limit(memory_bytes: int, output_bytes: int) -> None:
    with open("/proc/self/status") as f:
        vm_kib = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    cap = vm_kib * 1024 + memory_bytes  # what the process already maps, plus the allowance
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * output_bytes, 16 * output_bytes))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the cap fail instead of killing


# What the student's process keeps of the grader's environment (``LLMCOURSE_*`` too).
ENVIRONMENT = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MPLBACKEND",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
)


def scrubbed_environment(environ: dict[str, str], home: str) -> dict[str, str]:
    """The allow-listed variables of ``environ``, with ``home`` as its home and temporary folder."""
    kept = {k: v for k, v in environ.items() if k in ENVIRONMENT or k.startswith("LLMCOURSE_")}
    kept.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return {**kept, "HOME": home, "TMPDIR": home, "MPLCONFIGDIR": home}


def _become_init(job: Job) -> None:
    """Enter the namespaces and fork: this process waits, and the child, the first process of
    the new PID namespace, goes on (when it exits, the kernel kills all it left behind)."""
    isolation.enter_namespaces()
    if os.geteuid() == 0:
        isolation.hide_homes(list(job.attach))
    pid = os.fork()
    if pid:  # the outer process: wait, then exit as the child did
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        if os.WIFSIGNALED(status):
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
            os.kill(os.getpid(), os.WTERMSIG(status))
        os._exit(os.waitstatus_to_exitcode(status))
    isolation.die_with_parent()


def _python_of(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def run_job(job_bytes: bytes, conn) -> None:
    """Entry point of the student's process (``multiprocessing`` target): ``job_bytes`` is the
    pickled :class:`Job` (from the grader, so safe to load). Never returns."""
    job: Job = pickle.loads(job_bytes)

    def send(message: dict) -> None:
        conn.send_bytes(json.dumps(message).encode())

    spent: dict[str, float] = {}  # milliseconds per step of the sandbox, for bench/grade.py

    @contextlib.contextmanager
    def timed(step: str):
        start = time.perf_counter()
        yield
        spent[step] = spent.get(step, 0.0) + 1000 * (time.perf_counter() - start)

    try:
        os.setpgrp()
        if job.policy is not None:
            with timed("namespaces"):
                _become_init(job)
            network = "cut"
        else:
            network = _cut_network() if job.cut_network else "available"
        import torch

        torch.set_num_threads(1)
        log = open(job.log_path, "w", buffering=1, encoding="utf-8", errors="replace")
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = _CappedWriter(log, job.output_bytes)
        sys.stderr = sys.stdout
        _limit(job.memory_bytes, job.output_bytes)
        if job.scratch:
            with timed("environment"):
                environment = scrubbed_environment(dict(os.environ), job.scratch)
                os.environ.clear()
                os.environ.update(environment)
                os.chdir(job.scratch)
        if job.policy is not None:
            with timed("landlock"):
                isolation.restrict(job.policy)
            with timed("no root"):
                isolation.cap_processes()
                isolation.drop_root()
        # Bound before any student code runs: patching these modules later changes nothing here.
        from llmcourse.grading import guards
        from llmcourse.grading.guards import ForbiddenCall, Guard
        from llmcourse.grading.loading import load_qualname
        from llmcourse.grading.student import run_cases

        runner = load_qualname(job.runner)
        stand_ins = {name: load_qualname(target) for name, target in job.depends.items()}
        namespace: dict[str, Any] = {"__name__": "__main__", "display": lambda *args, **kwargs: None}
        namespace["get_ipython"] = _Shell(namespace).__call__
        with timed("stand-ins and guards"):
            _StandIns(job.stand_ins).install()
            guards.arm(job.forbidden, lambda name: send({"type": "forbidden", "name": name}), job.forbidden_sources)
        send({"type": "start", "network": network, "isolated": job.policy is not None, "ms": spent})
    except BaseException as exc:  # noqa: BLE001 - a broken sandbox is reported, not hidden
        send({"type": "sandbox-error", "error": f"{type(exc).__name__}: {exc}"})
        os._exit(3)

    def on_alarm(signum, frame):
        raise _CellTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    for cell in job.cells:
        try:
            source = _python_of(cell.source)
            if not cell.answer:
                signal.setitimer(signal.ITIMER_REAL, job.cell_seconds)
            with guards.quiet() if cell.quiet else contextlib.nullcontext():
                guards.run_cell(source, f"<cell {cell.label}>", namespace)
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
        namespace.update(stand_ins)
        answer = namespace.get(job.answer_name)
        if answer is None:
            send({"type": "result", "missing": True})
        else:
            guard = lambda: Guard(job.forbidden, report=lambda name: send({"type": "forbidden", "name": name}))  # noqa: E731
            try:
                results = run_cases(runner, answer, job.inputs, guard)
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
