"""Grading on many machines (llmcourse.grading.distributed): a real Dask scheduler and two
workers, each its own process tree as on two machines, one killed mid-batch.

Every submission must be graded and stored exactly once, with the grades of a one-machine run;
the results store, resume and --student re-grades must behave as on one machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from grade import synthetic  # noqa: E402  (bench/grade.py: correct, buggy, unanswered and hostile submissions)
from llmcourse.grading import cli as course  # noqa: E402
from llmcourse.grading import distributed, report  # noqa: E402

CHAPTER = "02_transformer_anatomy"
SUBMISSIONS = 12


def _course(root: Path) -> Path:
    root.mkdir()
    shutil.copyfile(course.COURSE / "nbgrader_config.py", root / "nbgrader_config.py")
    synthetic(root, SUBMISSIONS, seed=3, with_loops=False)
    return root


def _grades(results) -> list[tuple]:
    return [
        (r.student, r.chapter, r.status, r.score, [(e.name, e.points, e.status, e.subchecks) for e in r.exercises])
        for r in results
    ]


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two grading workers (`course.py worker`), each in its own process group."""
    scratch = tmp_path_factory.mktemp("dask")
    scheduler_file = scratch / "scheduler.json"
    dask = str(Path(sys.executable).parent / "dask")
    scheduler = subprocess.Popen(
        [
            dask,
            "scheduler",
            "--scheduler-file",
            str(scheduler_file),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        assert scheduler.poll() is None and time.monotonic() < deadline, "the Dask scheduler did not start"
        time.sleep(0.2)
    address = f"file:{scheduler_file}"
    workers = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "autograde" / "course.py"), "worker", "--scheduler", address, "--workers", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    try:
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield {"address": address, "workers": workers}
    finally:
        for process in [*workers, scheduler]:
            _stop(process)


def test_two_workers_one_killed_mid_batch(tmp_path, cluster, monkeypatch):
    expected = _grades(course.grade(_course(tmp_path / "one-machine"), [CHAPTER], progress=False))

    root = _course(tmp_path / "cluster")
    feedback = Counter()
    write_feedback = report.write_feedback
    monkeypatch.setattr(
        report,
        "write_feedback",
        lambda r, *a, **k: (feedback.update([(r.student, r.chapter)]), write_feedback(r, *a, **k))[1],
    )

    killed: dict = {}
    victim = cluster["workers"][0]

    def kill_when_busy():
        """Kill worker 0 (its nanny, worker and student processes) once two results are stored."""
        while len(list((root / "results").glob("*/*.json"))) < 2:
            time.sleep(0.05)
        killed["stored"] = len(list((root / "results").glob("*/*.json")))
        os.killpg(victim.pid, signal.SIGKILL)

    watcher = threading.Thread(target=kill_when_busy, daemon=True)
    watcher.start()
    results = course.grade(root, [CHAPTER], progress=False, scheduler=cluster["address"])
    watcher.join(timeout=5)

    assert killed and killed["stored"] < SUBMISSIONS, f"the worker was not killed mid-batch: {killed}"
    assert victim.wait(timeout=10) is not None
    assert _grades(results) == expected, "the cluster's grades differ from one machine's"
    assert len(results) == SUBMISSIONS
    assert set(feedback.values()) == {1} and len(feedback) == SUBMISSIONS, f"stored more than once: {feedback}"
    stored = [json.loads(p.read_text())["result"] for p in sorted((root / "results").glob("*/*.json"))]
    assert len(stored) == SUBMISSIONS

    # Resume and --student behave as on one machine: nothing regraded, then exactly one student.
    feedback.clear()
    again = course.grade(root, [CHAPTER], progress=False, scheduler=cluster["address"])
    assert _grades(again) == expected and not feedback
    one = expected[0][0]
    course.grade(root, [CHAPTER], progress=False, scheduler=cluster["address"], students=[one])
    assert feedback == Counter({(one, CHAPTER): 1})


def test_a_worker_with_other_checks_refuses_to_grade(tmp_path):
    """A worker whose checkout differs from the client's fails the task loudly (graded by nobody,
    not stored) instead of grading with other checks."""
    root = _course(tmp_path / "course")
    path = next((root / "submitted").glob(f"*/{CHAPTER}/{CHAPTER}.ipynb"))
    task = distributed.task_for(0, "ada", CHAPTER, path, None, 30.0, 4 << 30)
    stale = distributed.Task(**{**task.__dict__, "checks_sha256": "0" * 64})
    with pytest.raises(RuntimeError, match="differs from the client's"):
        distributed.grade_task(stale, {})


def test_worker_command_joins_the_scheduler_with_one_thread_per_process():
    command, env = distributed.worker_command("tcp://10.0.0.5:8786", 4)
    assert command[1:3] == ["worker", "tcp://10.0.0.5:8786"]
    assert command[command.index("--nthreads") + 1] == "1" and command[command.index("--nworkers") + 1] == "4"
    assert env["DASK_DISTRIBUTED__WORKER__DAEMON"] == "False"  # workers start the sandbox's processes
    command, _ = distributed.worker_command("file:/shared/scheduler.json", 1)
    assert command[2:4] == ["--scheduler-file", "/shared/scheduler.json"]
