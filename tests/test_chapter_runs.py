"""The queue of chapter runs (tests/chapter_runs.py): order, width, results, and stopping."""

import sys
import threading
import time

import pytest

from chapter_runs import ChapterRuns


def recorder(log: list, name: str, started: threading.Event | None = None, release: threading.Event | None = None):
    def job():
        log.append(("start", name))
        if started:
            started.set()
        if release:
            assert release.wait(10)
        log.append(("end", name))
        return name

    return job


def test_jobs_run_one_at_a_time_in_order_until_a_test_waits():
    runs = ChapterRuns(slots=1, wide=2)
    log: list = []
    first_started, release = threading.Event(), threading.Event()
    runs.submit("a", recorder(log, "a", first_started, release))
    runs.submit("b", recorder(log, "b"))
    assert first_started.wait(10)
    time.sleep(0.2)
    assert log == [("start", "a")], "a second job started beside the stream of tests"
    assert runs.result("b") == "b"  # waiting opens the second slot: b runs while a still holds the first
    assert log == [("start", "a"), ("start", "b"), ("end", "b")]
    release.set()
    assert runs.result("a") == "a"
    runs.close()


def test_a_key_is_queued_once_and_a_failure_reaches_the_reader():
    runs = ChapterRuns(slots=1, wide=1)
    calls = []

    def fails():
        calls.append(1)
        raise ValueError("the job's own error")

    assert runs.submit("x", fails) is runs.submit("x", fails)
    with pytest.raises(ValueError, match="the job's own error"):
        runs.result("x")
    assert calls == [1]
    runs.close()


def test_closing_stops_the_running_process_and_cancels_the_queue():
    runs = ChapterRuns(slots=1, wide=1)
    running = runs.submit("sleep", lambda: runs.run([sys.executable, "-c", "import time; time.sleep(60)"]))
    queued = runs.submit("never", lambda: "ran")
    while not runs._processes:  # the process is up
        time.sleep(0.05)
    runs.close()
    assert running.result(timeout=20).returncode == -9  # stopped, not left to sleep its minute
    assert queued.cancelled()
