"""The grading engine: runs every exercise of every submission in its own sandboxed process,
decides the grade in this process, and never lets one submission stop the batch.

    engine = Engine(sources={"02_transformer_anatomy": source_notebook})
    results = engine.grade([("alice", "02_transformer_anatomy", Path(".../alice.ipynb")), ...])

Stages: intake (:mod:`~llmcourse.grading.intake`: read and repair), the source scan
(:func:`~llmcourse.grading.guards.scan_source`), execute (:mod:`~llmcourse.grading.sandbox`,
one process per exercise, forked from a pre-warmed server, ``workers`` at a time), judge
(:func:`~llmcourse.grading.judging.judge`), and report (:mod:`~llmcourse.grading.report`).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import nbformat

from llmcourse.grading import guards, intake, isolation, redaction, sandbox
from llmcourse.grading.declarations import Case, Exercise
from llmcourse.grading.judging import forbidden_message, judge
from llmcourse.grading.loading import checks_module, exercises_of, load_checks, runner_of
from llmcourse.grading.results import (
    SANDBOX_FAILED,
    ExerciseResult,
    SubmissionResult,
    not_graded_when_the_sandbox_failed,
)

GRADING_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = GRADING_DIR.parent
NOT_ISOLATED = (
    "graded without the operating-system sandbox (--no-isolation): the student's code could read and write "
    "what the grader can and leave processes running"
)
MAX_MESSAGE_BYTES = 64 << 20
MAX_MESSAGES = 10_000


# ---------------------------------------------------------------- processes


def _context() -> multiprocessing.context.ForkServerContext:
    """A forkserver context whose server has imported torch and every chapter's runners (not
    their checks: the student's process must hold no oracle), and has run no torch operation:
    children forked from it start in milliseconds and cannot inherit a hung thread pool."""
    ctx = multiprocessing.get_context("forkserver")
    chapters = sorted(p.stem for p in (GRADING_DIR / "runners").glob("ch[0-9][0-9].py"))
    ctx.set_forkserver_preload(
        [
            "torch",
            "torch._dynamo",
            "numpy",
            "matplotlib",
            "matplotlib.pyplot",
            "IPython.core.inputtransformer2",
            "llmcourse.grading.sandbox",
        ]
        + [f"llmcourse.grading.runners.{c}" for c in chapters]  # how to call answers; never the checks
    )
    # The server inherits these: one thread per student process, no display, no hub.
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from multiprocessing import forkserver

    # The server (and every student process) starts from the allow-listed environment: no key
    # of the grader's is in its memory.
    # It also starts in the folder that holds this llmcourse: the server's sys.path begins with
    # its working directory (python -c), and another checkout there (make grade run from a
    # clone while llmcourse is installed from elsewhere) would give the student's process a
    # second copy of the package, which the sandbox's read policy does not allow.
    saved, cwd = dict(os.environ), os.getcwd()
    try:
        os.environ.clear()
        os.environ.update(
            {
                k: v
                for k, v in saved.items()
                if k in sandbox.ENVIRONMENT or k.startswith("LLMCOURSE_") or k in ("HOME", "TMPDIR", "MPLCONFIGDIR")
            }
        )
        os.chdir(PACKAGE_DIR.parent)
        forkserver.ensure_running()
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)
    return ctx


@dataclass
class _Run:
    """One student process being watched."""

    process: Any
    reader: Any
    started: float
    messages: list[dict] = field(default_factory=list)
    eof: bool = False
    timed_out: bool = False
    bad_message: bool = False

    def drain(self) -> None:
        try:
            while not self.eof and self.reader.poll():
                data = self.reader.recv_bytes(MAX_MESSAGE_BYTES)
                if len(self.messages) > MAX_MESSAGES:  # a flood: keep reading (the child must not block), keep nothing
                    self.bad_message = True
                    continue
                try:
                    message = json.loads(data)
                    if isinstance(message, dict):
                        self.messages.append(message)
                except ValueError:
                    self.bad_message = True
        except (EOFError, OSError):
            self.eof = True


@dataclass
class _Outcome:
    messages: list[dict]
    exitcode: int | None
    timed_out: bool
    seconds: float
    output: str
    bad_message: bool


def _start(process) -> None:
    """Start a process without it importing the caller's ``__main__`` (a script, a notebook):
    the student's process needs only the chapter's checks, and a script without a
    ``__name__ == "__main__"`` guard would otherwise run again."""
    main = sys.modules["__main__"]
    saved: dict[str, Any] = {name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        process.start()
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_jobs(jobs: list[sandbox.Job], workers: int, time_limit: float, progress=None) -> list[_Outcome]:
    """Run each job in its own process, ``workers`` at a time; a job past ``time_limit``
    seconds is killed with everything it started."""
    ctx = _context()
    pending = deque(enumerate(jobs))
    running: dict[int, _Run] = {}
    outcomes: list[_Outcome | None] = [None] * len(jobs)
    while pending or running:
        while pending and len(running) < workers:
            i, job = pending.popleft()
            _make_scratch(job)
            reader, writer = ctx.Pipe(duplex=False)
            # Plain pickle bytes: multiprocessing's own pickler would share each tensor through a
            # file descriptor (torch's reductions), and a job with hundreds of tensors runs out of them.
            process = ctx.Process(target=sandbox.run_job, args=(pickle.dumps(job), writer), daemon=True)
            _start(process)
            writer.close()
            running[i] = _Run(process, reader, time.monotonic())
        now = time.monotonic()
        timeout = max(0.0, min(r.started + time_limit for r in running.values()) - now)
        waitables = [r.reader for r in running.values() if not r.eof] + [r.process.sentinel for r in running.values()]
        ready = set(wait(waitables, timeout))
        for i, run in list(running.items()):
            if run.reader in ready:
                run.drain()
            over = time.monotonic() - run.started > time_limit
            if run.process.sentinel in ready or over:
                if over and run.process.is_alive():
                    run.timed_out = True
                    _kill_group(run.process.pid)
                    run.process.kill()
                run.process.join()
                run.drain()
                _kill_group(run.process.pid)  # whatever the student's code left running
                outcomes[i] = _Outcome(
                    run.messages,
                    run.process.exitcode,
                    run.timed_out,
                    time.monotonic() - run.started,
                    _read_log(jobs[i]),
                    run.bad_message,
                )
                if jobs[i].scratch:
                    shutil.rmtree(jobs[i].scratch, ignore_errors=True)
                run.reader.close()
                run.process.close()
                del running[i]
                if progress is not None:
                    progress()
    return outcomes  # type: ignore[return-value]


def _make_scratch(job: sandbox.Job) -> None:
    """The job's own folder, the only one it may write; owned by ``nobody`` when the student's
    process will drop root to it."""
    if not job.scratch:
        return
    os.makedirs(job.scratch, mode=0o700)
    if job.policy is not None and os.geteuid() == 0:
        os.chown(job.scratch, isolation.NOBODY, isolation.NOBODY)


def _read_log(job: sandbox.Job) -> str:
    try:
        with open(job.log_path, "rb") as f:
            data = f.read(job.output_bytes + 4096)
        os.unlink(job.log_path)
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if len(data) > job.output_bytes and sandbox.TRIM_MARK not in text:
        text = text[: job.output_bytes] + sandbox.TRIM_MARK
    return text


# ---------------------------------------------------------------- judging one job


def _judge(
    exercise: Exercise, test_cell: str, cases: list[Case], outcome: _Outcome, time_limit: float
) -> ExerciseResult:
    result = ExerciseResult(
        exercise.name, test_cell, 0.0, exercise.points, "failed", {s.id: 0.0 for s in exercise.subchecks}
    )
    result.output, result.seconds = outcome.output, outcome.seconds
    by_type: dict[str, list[dict]] = {}
    for message in outcome.messages:
        by_type.setdefault(str(message.get("type")), []).append(message)
    result.cell_errors = [f"cell '{m.get('cell')}': {m.get('error')}" for m in by_type.get("cell", [])]
    forbidden = sorted({str(m.get("name")) for m in by_type.get("forbidden", [])})
    final = by_type["result"][-1] if by_type.get("result") else None
    if forbidden:
        result.status = "forbidden"
        result.messages = [forbidden_message(exercise, forbidden)]
    elif final is None:
        if outcome.timed_out:
            result.status, result.messages = (
                "timeout",
                [f"timed out after {time_limit:g} s (an endless loop, or far too slow)"],
            )
        elif outcome.exitcode is not None and outcome.exitcode < 0:
            sig = (
                signal.Signals(-outcome.exitcode).name
                if -outcome.exitcode in {s.value for s in signal.Signals}
                else str(-outcome.exitcode)
            )
            oom = sig == "SIGKILL"
            result.status = "oom" if oom else "died"
            result.messages = [
                f"the process was killed by {sig}" + (" (most likely it ran out of memory)" if oom else "")
            ]
        else:
            sandbox_error = by_type.get("sandbox-error")
            result.status = "error" if sandbox_error else "died"
            result.messages = [
                f"{SANDBOX_FAILED}{sandbox_error[0].get('error')}"
                if sandbox_error
                else f"the process exited with code {outcome.exitcode} before its results were in "
                "(sys.exit / os._exit?)"
            ]
    elif final.get("missing"):
        result.status = "missing"
        result.messages = [f"no {exercise.name} was defined (did its cell raise an error?)"]
    elif final.get("oom"):
        result.status, result.messages = "oom", ["ran out of memory"]
    elif "crashed" in final:
        result.status, result.messages = "error", [f"grading stopped: {final['crashed']}"]
    else:
        results = final.get("results")
        if not isinstance(results, list) or len(results) != len(cases):
            result.status, result.messages = "error", ["the results were incomplete or corrupted"]
        else:
            try:
                judged = judge(exercise, cases, results)
            except Exception as exc:  # noqa: BLE001 - never let one submission stop the batch
                result.status, result.messages = "error", [f"the results could not be judged ({type(exc).__name__})"]
                return result
            result.subchecks = judged.points
            result.points = judged.score
            result.messages = [f"{exercise.subcheck(s).requirement}: {m}" for s, m in judged.failures.items()]
            if any("MemoryError" in m or "can't allocate memory" in m for m in judged.failures.values()):
                result.messages.append("(it ran out of memory on at least one case)")
            result.status = "passed" if not judged.failures else "failed"
    if outcome.bad_message:
        result.messages.append("(the process also sent messages the grader could not read: ignored)")
    if result.status not in ("passed", "failed"):
        result.subchecks = {s.id: 0.0 for s in exercise.subchecks}
        result.points = 0.0
    return result


# ---------------------------------------------------------------- the engine


@dataclass
class Engine:
    """Grades submissions. ``sources`` maps chapter ids to their solution notebooks (the
    single source), from which the set-up cells and the cell ids are known."""

    sources: dict[str, nbformat.NotebookNode]
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    time_limit: float = 30.0
    memory_bytes: int = 4 << 30
    output_bytes: int = 64 << 10
    cut_network: bool = True
    isolation: bool = True  # the operating-system sandbox; False only with the instructor's --no-isolation
    _cases: dict[tuple[str, str], list[Case]] = field(default_factory=dict, init=False)
    sandbox_ms: dict[str, list[float]] = field(
        default_factory=dict, init=False
    )  # step -> its milliseconds, per process

    def cases(self, checks: str, name: str) -> list[Case]:
        """Every case of one exercise (expected values computed once per run, in this process)."""
        key = (checks, name)
        if key not in self._cases:
            self._cases[key] = load_checks(checks).EXERCISES[name].cases(True)
        return self._cases[key]

    def grade(self, items: list[tuple], progress: bool = True) -> list[SubmissionResult]:
        """Grade ``(student, chapter, notebook path[, checks[, only]])`` items; never raises for a
        bad submission. ``checks`` is the checks module to use (default: the chapter's current
        one); ``only``, a set of exercise keys, limits grading to those exercises."""
        from tqdm.auto import tqdm

        if self.isolation:
            isolation.require()
        results: list[SubmissionResult] = []
        jobs: list[sandbox.Job] = []
        owners: list[tuple[SubmissionResult, str, str]] = []  # result, exercise key, test cell
        scratch = Path(tempfile.mkdtemp(prefix="llmcourse-grading-"))
        scratch.chmod(0o711)  # a student's process (nobody) reaches its own folder in it, lists nothing
        demo_names: dict[int, set[str]] = {}
        for student, chapter, path, *rest in items:
            checks = rest[0] if rest and rest[0] else checks_module(chapter)
            only = rest[1] if len(rest) > 1 else None  # exercise keys to grade (the mutation suite), or all
            result = SubmissionResult(student, chapter, checks=checks)
            results.append(result)
            try:
                exercises = exercises_of(chapter, checks)
                self.cases(checks, next(iter(exercises)))
            except Exception as exc:  # noqa: BLE001 - a broken release snapshot: this row, not the batch
                result.status, result.notes = (
                    "error",
                    [f"the checks {checks} could not be loaded ({type(exc).__name__}: {exc})"],
                )
                continue
            try:
                nb = intake.read_notebook(path)
                sub = intake.intake(nb, self.sources[chapter], graded={e.cell for e in exercises.values()})
            except ValueError as exc:
                result.status, result.notes = "error", [str(exc)]
                continue
            result.notes = sub.notes
            demo_names[id(result)] = sub.demo_names
            for key, exercise in exercises.items():
                if only is not None and key not in only:
                    continue
                job, scan, review = self._job(chapter, checks, key, exercise, sub, scratch / f"{len(jobs)}.log")
                result.review += [line for line in review if line not in result.review]
                if scan:
                    result.exercises.append(
                        ExerciseResult(
                            exercise.name,
                            exercise.test_cell,
                            0.0,
                            exercise.points,
                            "forbidden",
                            {s.id: 0.0 for s in exercise.subchecks},
                            [forbidden_message(exercise, scan)],
                        )
                    )
                    continue
                result.exercises.append(None)  # type: ignore[arg-type]  # filled in below, in order
                owners.append((result, key, exercise.test_cell))
                jobs.append(job)
        bar = tqdm(total=len(jobs), desc="grading", unit="exercise", disable=not progress or not jobs)
        outcomes = run_jobs(jobs, self.workers, self.time_limit, progress=bar.update)
        bar.close()
        for (result, key, test_cell), outcome in zip(owners, outcomes):
            exercise = exercises_of(result.chapter, result.checks)[key]
            judged = _judge(exercise, test_cell, self.cases(result.checks, key), outcome, self.time_limit)
            _hint_demo_names(judged, demo_names[id(result)])
            slot = next(i for i, e in enumerate(result.exercises) if e is None)
            result.exercises[slot] = judged
            started = next((m for m in outcome.messages if m.get("type") == "start"), None)
            for step, ms in ((started or {}).get("ms") or {}).items():
                if isinstance(ms, (int, float)):
                    self.sandbox_ms.setdefault(str(step), []).append(float(ms))
            if started and started.get("network") != "cut":
                result.network = "available"
        for result in results:
            not_graded_when_the_sandbox_failed(result)
            if not self.isolation and result.status == "graded":
                result.notes.append(NOT_ISOLATED)
            if result.network != "cut" and result.status == "graded":
                result.notes.append("the student's code ran with the network available (no network namespace here)")
        try:
            scratch.rmdir()
        except OSError:
            pass
        secrets = redaction.secret_values(env_files=[PACKAGE_DIR.parent / ".env", Path.cwd() / ".env"])
        return [redaction.redact_fields(r, secrets) for r in results]

    def _job(
        self, chapter: str, checks: str, key: str, exercise: Exercise, sub: intake.Submission, log_path: Path
    ) -> tuple[sandbox.Job, list[str], list[str]]:
        """The job of one exercise, what the source scan found in the cells it would run (forbidden),
        and what it found worth the instructor's review."""
        all_exercises = load_checks(checks).EXERCISES
        cells = [sandbox.Cell(f"setup {i + 1}", s, False, s in sub.trusted_setup) for i, s in enumerate(sub.setup)]
        scan = [
            line
            for cell in cells
            if cell.source not in sub.trusted_setup
            for line in guards.scan_source(cell.source, (), cell.label)
        ]
        for dep in _dependencies(all_exercises, exercise):
            source = sub.answers.get(dep.cell)
            # A dependency's tampering is its own exercise's business: here its cell is left out
            # (a stand-in replaces its answer anyway), so it cannot reach this exercise's process.
            if source is not None and not guards.scan_source(source, (), dep.cell):
                cells.append(sandbox.Cell(dep.cell, source, False, quiet=True))
        review = [
            line
            for cell in cells
            if cell.source not in sub.trusted_setup
            for line in guards.review_source(cell.source, (), cell.label)
        ]
        if exercise.cell in sub.answers:
            cells.append(sandbox.Cell(exercise.cell, sub.answers[exercise.cell], True))
            scan += guards.scan_source(sub.answers[exercise.cell], exercise.forbidden.names, exercise.cell)
            review += guards.review_source(sub.answers[exercise.cell], exercise.forbidden.names, exercise.cell)
        job = sandbox.Job(
            runner=runner_of(chapter, checks, key),
            answer_name=exercise.name,
            cells=cells,
            depends=dict(exercise.depends),
            forbidden=exercise.forbidden,
            inputs=[c.inputs for c in self.cases(checks, key)],
            log_path=str(log_path),
            memory_bytes=self.memory_bytes,
            output_bytes=self.output_bytes,
            cell_seconds=min(10.0, self.time_limit / 3),
            cut_network=self.cut_network,
            scratch=str(log_path.with_suffix("")),
        )
        if self.isolation:
            prepared = _prepared(exercise, job.runner)
            job.policy = dataclasses.replace(prepared.policy, scratch=job.scratch)
            job.stand_ins, job.forbidden_sources = prepared.stand_ins, prepared.fingerprints
            job.attach = (*isolation.interpreter_paths(), str(PACKAGE_DIR), str(log_path.parent))
        return job, scan, review


@dataclass(frozen=True)
class _Prepared:
    """What the sandbox of one exercise's student processes needs that is the same for every
    submission: worked out once per exercise, in the grader's process (the one cache per exercise:
    isolation.py, stdlib-only, cannot compute the fingerprints, which need guards and torch)."""

    exercise: Exercise  # held, so that its id (the key) cannot be reused
    # What it may read (isolation.policy_for); each job gets a copy with its own scratch (the
    # lists are shared, never changed).
    policy: isolation.Policy
    stand_ins: tuple[str, ...]  # the modules it gets stand-ins for
    fingerprints: dict[str, str]  # its forbidden functions' sources (guards.source_fingerprints)


_prepared_cache: dict[tuple[int, str], _Prepared] = {}


def _prepared(exercise: Exercise, runner: str) -> _Prepared:
    """The :class:`_Prepared` of ``exercise`` run by ``runner`` ("module:qualname")."""
    key = (id(exercise), runner)
    if key not in _prepared_cache:
        policy, stand_ins = isolation.policy_for(exercise, runner, "")
        _prepared_cache[key] = _Prepared(exercise, policy, stand_ins, guards.source_fingerprints(exercise.forbidden))
    return _prepared_cache[key]


def _hint_demo_names(result: ExerciseResult, demo_names: set[str]) -> None:
    """Say so when an answer failed on a name that only a demo cell defines."""
    text = "\n".join(result.messages + result.cell_errors)
    for name in sorted(demo_names):
        if f"name '{name}' is not defined" in text:
            result.messages.append(
                f"'{name}' is defined in a cell that does not run while grading (only the set-up cells and the "
                "answer cells do): move it into the answer's cell"
            )


def _dependencies(exercises: dict[str, Exercise], exercise: Exercise) -> list[Exercise]:
    """The exercises whose answers ``exercise`` uses (by the names it depends on), in order."""
    wanted = set(exercise.depends)
    return [e for e in exercises.values() if e.name in wanted and e is not exercise]
