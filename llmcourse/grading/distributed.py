"""Grading on many machines, through Dask's distributed scheduler (`make grade ARGS="--scheduler ..."`).

Without a scheduler, `make grade` grades on this machine (``Engine`` in this process, no
server). With one, every submission becomes one Dask task:

- the client (the machine that runs `make grade`) reads the submissions, decides what to grade
  (the results store, resume, ``--student``) and sends each task the notebook's bytes, the checks
  to use (the module's name and, for an earlier release, the snapshot's text) and the chapter's
  solution notebook (scattered once to every worker);
- a worker (any machine with the course checkout and its ``.venv``, started by
  ``python autograde/course.py worker ADDRESS``) grades it with its own ``Engine`` (kept warm for
  the next task: the same fork server, sandbox and limits as on one machine) and returns the
  result as plain data; it first checks that its checks module is the client's (same hash),
  so a worker on another commit fails loudly instead of grading with other checks;
- the client stores each result once, as it arrives, then writes every report exactly as on one
  machine.

A task whose worker dies is given to another worker by the scheduler (Dask reschedules the
tasks of a lost worker; after ``distributed.scheduler.allowed-failures`` losses, 3 by default,
the submission is reported "not graded" and the next run grades it). Dask was chosen over a
PostgreSQL task queue because it needs no database, runs the same code on a laptop
(``--scheduler local:N``), a lab's machines (``dask scheduler`` + ``dask worker``) and a
SLURM/PBS cluster (``dask-jobqueue``), and its scheduler reschedules lost work by itself.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import nbformat

from llmcourse.grading.engine import Engine
from llmcourse.grading.loading import checks_module, checks_sha256, exercises_of, pack_checks, unpack_checks
from llmcourse.grading.results import SubmissionResult

WORKER_SETTINGS = {
    # A worker starts the engine's fork server and student processes: Dask's default daemonic
    # worker processes may not have children.
    "distributed.worker.daemon": False,
    # The sandbox limits each student process's memory; the nanny must not kill a worker for
    # the memory its children use.
    "distributed.worker.memory.target": False,
    "distributed.worker.memory.spill": False,
    "distributed.worker.memory.pause": False,
    "distributed.worker.memory.terminate": False,
}


@dataclass(frozen=True)
class Task:
    """One submission to grade on a worker (plain data: it travels over the network)."""

    index: int
    student: str
    chapter: str
    notebook: bytes
    checks: str  # what the result records: a module name, or "file:<snapshot>" on the client
    checks_source: bytes | None  # an earlier release's snapshot, when ``checks`` is a file
    checks_sha256: str  # of the current checks module the client has (when checks_source is None)
    time_limit: float
    memory_bytes: int
    isolation: bool = True  # the operating-system sandbox (False: the instructor's --no-isolation)


_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def _engine(sources: dict[str, str], time_limit: float, memory_bytes: int, isolation: bool = True) -> Engine:
    """This worker process's engine, kept between tasks (its fork server and the exercises'
    expected values stay warm)."""
    key = (hashlib.sha256(repr(sorted(sources.items())).encode()).hexdigest(), time_limit, memory_bytes, isolation)
    with _engines_lock:
        if key not in _engines:
            _engines.clear()
            notebooks = {chapter: nbformat.reads(text, as_version=4) for chapter, text in sources.items()}
            # One student process at a time per task: start workers with --nthreads 1 and as
            # many processes (--nworkers) as the machine has cores to give.
            _engines[key] = Engine(
                notebooks, time_limit=time_limit, memory_bytes=memory_bytes, workers=1, isolation=isolation
            )
        return _engines[key]


def grade_task(task: Task, sources: dict[str, str]) -> dict:
    """Worker side: grade one submission, return its result as plain data."""
    if task.checks_source is None:
        mine = checks_sha256(task.checks)
        if mine != task.checks_sha256:
            raise RuntimeError(
                f"this worker's {task.checks} differs from the client's (sha256 {mine[:12]} vs "
                f"{task.checks_sha256[:12]}): check out the client's commit on every worker"
            )
        checks = task.checks
    else:  # an earlier release's checks: written where this worker can import them from
        digest = hashlib.sha256(task.checks_source).hexdigest()
        folder = Path(tempfile.gettempdir()) / "llmcourse-releases"
        folder.mkdir(parents=True, exist_ok=True)
        checks = f"file:{unpack_checks(task.checks_source, folder / f'{task.chapter}-{digest[:16]}')}"
    engine = _engine(sources, task.time_limit, task.memory_bytes, task.isolation)
    with tempfile.TemporaryDirectory(prefix="llmcourse-task-") as scratch:
        path = Path(scratch) / f"{task.chapter}.ipynb"
        path.write_bytes(task.notebook)
        result = engine.grade([(task.student, task.chapter, path, checks)], progress=False)[0]
    result.checks = task.checks
    return result.to_dict()


def warm(sources: dict[str, str], time_limit: float, memory_bytes: int) -> str:
    """Start this worker's engine and fork server before the first task (benchmarks: what is
    timed is then the grading, not the start-up)."""
    import time

    from llmcourse.grading.engine import _context

    engine = _engine(sources, time_limit, memory_bytes)
    for chapter in engine.sources:  # every exercise's cases and expected values
        for key in exercises_of(chapter):
            engine.cases(checks_module(chapter), key)
    # The fork server imports torch and the checks before its first child: fork one now.
    first = _context().Process(target=time.sleep, args=(0,), daemon=True)
    first.start()
    first.join()
    return f"{os.getpid()}: {len(engine.sources)} chapters"


def worker_command(scheduler: str, processes: int) -> tuple[list[str], dict[str, str]]:
    """The command and environment of one machine's grading workers: ``processes`` Dask worker
    processes of one thread each (each grades one submission at a time, in the engine's
    sandbox), joined to ``scheduler`` (an address, or ``file:PATH`` of a scheduler file)."""
    import sys

    dask = str(Path(sys.executable).parent / "dask")
    where = ["--scheduler-file", scheduler.removeprefix("file:")] if scheduler.startswith("file:") else [scheduler]
    env = dict(os.environ)
    for key, value in WORKER_SETTINGS.items():  # Dask reads its settings from DASK_* variables
        env["DASK_" + key.upper().replace(".", "__").replace("-", "_")] = str(value)
    command = [
        dask,
        "worker",
        *where,
        "--nthreads",
        "1",
        "--nworkers",
        str(processes),
        "--memory-limit",
        "0",
        "--no-dashboard",
    ]
    return command, env


@contextmanager
def local_workers(scheduler: str, processes: int) -> Iterator[subprocess.Popen]:
    """Start this machine's grading workers in their own process group; stop them on exit."""
    command, env = worker_command(scheduler, processes)
    workers = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        yield workers
    finally:
        with suppress(ProcessLookupError):
            os.killpg(workers.pid, signal.SIGTERM)
        try:
            workers.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(workers.pid, signal.SIGKILL)
            workers.wait()


@contextmanager
def connect(scheduler: str, workers: int | None = None, timeout: float = 120):
    """A Dask client. ``local:N`` starts a scheduler in this process and N worker processes on
    this machine (the same worker command as on other machines); anything else is a scheduler's
    address (``tcp://host:8786``) or scheduler file (``file:PATH``, as ``dask scheduler
    --scheduler-file`` writes it) whose workers were started with ``course.py worker``."""
    from distributed import Client, LocalCluster

    if scheduler.startswith("local"):
        n = int(scheduler.partition(":")[2] or workers or os.cpu_count() or 1)
        with (
            LocalCluster(n_workers=0, scheduler_port=0, dashboard_address=None, host="127.0.0.1") as cluster,
            local_workers(cluster.scheduler_address, n),
            Client(cluster) as client,
        ):
            client.wait_for_workers(n, timeout=timeout)
            yield client
    elif scheduler.startswith("file:"):
        with Client(scheduler_file=scheduler.removeprefix("file:"), timeout=timeout) as client:
            yield client
    else:
        with Client(scheduler, timeout=timeout) as client:
            yield client


def grade_on_cluster(
    client, tasks: list[Task], sources: dict[str, nbformat.NotebookNode]
) -> Iterator[tuple[int, SubmissionResult | None, str]]:
    """Client side: submit every task, yield ``(index, result or None, error)`` as each finishes,
    each once. A task that failed (its workers kept dying, or a worker's checks differ) yields
    ``None`` and the reason; it is not stored, so the next run grades it again."""
    from distributed import as_completed

    texts = {chapter: nbformat.writes(nb) for chapter, nb in sources.items()}
    [shared] = client.scatter([texts], broadcast=True)
    futures = {
        client.submit(
            grade_task, task, shared, pure=False, key=f"grade-{task.index}-{task.student}-{task.chapter}"
        ): task
        for task in tasks
    }
    for future in as_completed(futures):
        task = futures[future]
        if future.status == "finished":
            yield task.index, SubmissionResult.from_dict(future.result()), ""
        else:
            error = future.exception()
            yield task.index, None, f"{type(error).__name__}: {error}"
        future.release()


def task_for(
    index: int,
    student: str,
    chapter: str,
    path: Path,
    checks: str | None,
    time_limit: float,
    memory_bytes: int,
    isolation: bool = True,
) -> Task:
    """The task of one submission, as ``course.grade`` describes it (``checks``: None for the
    chapter's current module, else ``file:<snapshot>``)."""
    name = checks or checks_module(chapter)
    if name.startswith("file:"):
        return Task(
            index,
            student,
            chapter,
            path.read_bytes(),
            name,
            pack_checks(Path(name.removeprefix("file:"))),
            "",
            time_limit,
            memory_bytes,
            isolation,
        )
    return Task(
        index, student, chapter, path.read_bytes(), name, None, checks_sha256(name), time_limit, memory_bytes, isolation
    )
