"""Submissions per minute: the course's grader against plain sequential `nbgrader autograde`.

    python bench/grade.py [--submissions 100] [--nbgrader-sample 3] [--timeout 30]
    python bench/grade.py --class-size 50 --all-chapters     # a whole term: every chapter, N students
    python bench/grade.py --scaling [--submissions 60]        # a Dask cluster: 2 one-core workers vs 1
    python bench/grade.py --isolation [--submissions 60]      # the OS sandbox on vs --no-isolation

Builds N synthetic submissions of chapter 02 (about half correct, a third with one catalogued
mistake, some unanswered, a few hostile ones from tests/hostile_submissions.py, endless loops
excluded unless --with-loops) in a scratch course directory, grades all of them with
`course.grade` (the path of `make grade`: sandboxed processes, feedback, gradebook), then grades
a sample with nbgrader's own `autograde` (a fresh kernel runs the whole notebook), in the same
run, and prints both rates and their ratio. The ratio is what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from hostile_submissions import CHAPTER, HOSTILE  # noqa: E402
from llmcourse.grading import cli as course  # noqa: E402
from llmcourse.grading import similarity  # noqa: E402
from llmcourse.grading.loading import exercises_of  # noqa: E402


def synthetic(
    root: Path, n: int, seed: int, with_loops: bool, chapter: str = CHAPTER, with_hostile: bool = True
) -> None:
    """Write ``n`` submissions of ``chapter`` under ``root/submitted`` (hostile ones: chapter 02 only)."""
    rng = random.Random(seed)
    solution = nbformat.read(ROOT / "solutions" / f"{chapter}.ipynb", as_version=4)
    untouched = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
    hostile = (
        [h for h in HOSTILE if with_loops or "loop" not in h.student] if chapter == CHAPTER and with_hostile else []
    )
    mistakes = [(e.cell, m.code) for e in exercises_of(chapter).values() for m in e.mistakes]
    for i in range(n):
        kind = rng.choices(["correct", "buggy", "untouched", "hostile"], weights=[50, 32, 12, 6 if hostile else 0])[0]
        nb = nbformat.from_dict(json.loads(json.dumps(untouched if kind == "untouched" else solution)))
        text = None
        if kind == "buggy":
            cell_id, code = rng.choice(mistakes)
            next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell_id).source = code
        elif kind == "hostile":
            h = rng.choice(hostile)
            if h.start != "solution":
                nb = nbformat.from_dict(json.loads(json.dumps(untouched)))
            text = h.edit(nb)
        folder = root / "submitted" / f"student{i:04d}-{kind}" / chapter
        folder.mkdir(parents=True)
        if isinstance(text, str):
            (folder / f"{chapter}.ipynb").write_text(text)
        else:
            nbformat.write(nb, folder / f"{chapter}.ipynb")


def nbgrader_autograde(root: Path, students: list[str]) -> float:
    """Seconds for plain sequential ``nbgrader autograde`` of ``students``."""
    course.generate_assignment(root, CHAPTER)
    api = course.nbgrader_api(root)
    start = time.perf_counter()
    for student in students:
        api.autograde(CHAPTER, student)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument(
        "--nbgrader-sample", type=int, default=3, help="submissions graded by nbgrader autograde (about 20 s each)"
    )
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument(
        "--with-loops", action="store_true", help="include the endless-loop submissions (each costs --timeout)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--class-size", type=int, default=0, help="with --all-chapters: students per chapter")
    parser.add_argument("--all-chapters", action="store_true", help="time a whole term: every chapter in solutions/")
    parser.add_argument("--scaling", action="store_true", help="grade on a local Dask cluster: one worker vs two")
    parser.add_argument(
        "--isolation", action="store_true", help="the operating-system sandbox on vs off, and each step's cost"
    )
    args = parser.parse_args()
    if args.isolation:
        result = compare_isolation(args.submissions, args.timeout, args.seed)
        for name in ("on", "off"):
            print(
                f"isolation {name:<3}: {result['submissions']} submissions in {result[name + '_seconds']:.1f} s, "
                f"{result[name + '_rate']:.1f}/min"
            )
        print(
            f"ratio (on / off): {result['on_rate'] / result['off_rate']:.2f}x; per exercise: "
            + ", ".join(f"{step} {ms:.1f} ms" for step, ms in result["step_ms"].items())
        )
        return None
    if args.all_chapters:
        return term(args.class_size or 50, args.timeout, args.seed)
    if args.scaling:
        result = compare_workers(args.submissions, args.timeout, args.seed)
        for n, name in ((1, "one"), (2, "two")):
            print(
                f"{n} worker(s) of one core: {result['submissions']} submissions in {result[name + '_seconds']:.1f} s, "
                f"{result[name + '_rate']:.1f}/min"
            )
        print(f"ratio: {result['two_rate'] / result['one_rate']:.2f}x")
        return None

    result = compare_with_nbgrader(args.submissions, args.nbgrader_sample, args.timeout, args.seed, args.with_loops)
    print(
        f"machine: {os.cpu_count()} cores; chapter {CHAPTER}; {result['submissions']} submissions "
        f"({result['graded']} graded, {result['submissions'] - result['graded']} unreadable)"
    )
    print(f"{'grader':<38} {'submissions':>11} {'seconds':>9} {'per minute':>11}")
    print(
        f"{'course engine (make grade)':<38} {result['submissions']:>11} {result['ours_seconds']:>9.1f} "
        f"{result['ours_rate']:>11.1f}"
    )
    print(
        f"{'nbgrader autograde, sequential':<38} {result['sample']:>11} {result['nbgrader_seconds']:>9.1f} "
        f"{result['nbgrader_rate']:>11.1f}"
    )
    print(f"ratio: {result['ours_rate'] / result['nbgrader_rate']:.1f}x")
    print(
        f"similar answers of the {result['submissions']} submissions (part of the engine's time): "
        f"{result['similarity_seconds']:.1f} s"
    )


def compare_with_nbgrader(
    submissions: int = 100, nbgrader_sample: int = 3, timeout: float = 30.0, seed: int = 0, with_loops: bool = False
) -> dict:
    """Grade ``submissions`` synthetic chapter-02 submissions with the course's engine and a
    sample of them with nbgrader's ``autograde``, in this one run; rates are per minute."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-grade-"))
    try:
        ours_root, theirs_root = scratch / "ours", scratch / "nbgrader"
        for root in (ours_root, theirs_root):
            root.mkdir()
            shutil.copyfile(course.COURSE / "nbgrader_config.py", root / "nbgrader_config.py")
        synthetic(ours_root, submissions, seed, with_loops)
        students = sorted(p.name for p in (ours_root / "submitted").iterdir())
        sample = [s for s in students if s.endswith(("-correct", "-buggy"))][:nbgrader_sample]
        for student in sample:
            shutil.copytree(ours_root / "submitted" / student, theirs_root / "submitted" / student)

        start = time.perf_counter()
        results = course.grade(ours_root, [CHAPTER], time_limit=timeout, progress=False)
        ours = time.perf_counter() - start
        start = time.perf_counter()  # the class report's similar answers, part of the above, alone
        course.similar_answers(ours_root, [CHAPTER], similarity.Settings())
        similar = time.perf_counter() - start
        theirs = nbgrader_autograde(theirs_root, sample)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "submissions": len(results),
        "graded": sum(r.status == "graded" for r in results),
        "ours_seconds": ours,
        "ours_rate": 60 * len(results) / ours,
        "similarity_seconds": similar,
        "sample": len(sample),
        "nbgrader_seconds": theirs,
        "nbgrader_rate": 60 * len(sample) / theirs,
    }


def compare_workers(submissions: int = 60, timeout: float = 30.0, seed: int = 0) -> dict:
    """Submissions per minute on a local Dask cluster (`make grade ARGS="--scheduler local:N"`)
    of one worker process of one thread against two, in this one run, on the same synthetic
    chapter-02 submissions (correct, buggy, unanswered; not the hostile ones, whose few long
    waits on the limits, such as a 15 s memory bomb, would measure the last task's tail rather
    than the throughput). Workers are started and warmed (torch imported, fork server up,
    expected values computed) before the clock starts: what is timed is the grading."""
    from llmcourse.grading import distributed

    scratch = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    try:
        synthetic(scratch, submissions, seed, with_loops=False, with_hostile=False)
        paths = sorted((scratch / "submitted").glob(f"*/{CHAPTER}/{CHAPTER}.ipynb"))
        memory = 4 << 30
        tasks = [
            distributed.task_for(i, p.parent.parent.name, CHAPTER, p, None, timeout, memory)
            for i, p in enumerate(paths)
        ]
        sources = {CHAPTER: nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)}
        texts = {chapter: nbformat.writes(nb) for chapter, nb in sources.items()}
        seconds, scores = {}, {}
        for workers in (1, 2):
            with distributed.connect(f"local:{workers}") as client:
                client.run(distributed.warm, texts, timeout, memory)
                start = time.perf_counter()
                graded = list(distributed.grade_on_cluster(client, tasks, sources))
                seconds[workers] = time.perf_counter() - start
            scores[workers] = sorted((i, r.score if r else None) for i, r, _ in graded)
        assert scores[1] == scores[2], "one worker and two graded differently"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "submissions": len(tasks),
        "one_seconds": seconds[1],
        "two_seconds": seconds[2],
        "one_rate": 60 * len(tasks) / seconds[1],
        "two_rate": 60 * len(tasks) / seconds[2],
    }


def compare_isolation(submissions: int = 60, timeout: float = 30.0, seed: int = 0) -> dict:
    """Submissions per minute of the engine with the operating-system sandbox (namespaces,
    Landlock, no root) and without it (``--no-isolation``), in this one run on the same
    synthetic chapter-02 submissions, and the mean milliseconds of each sandbox step per
    exercise (the student's process measures them). The fork server is warmed first."""
    from llmcourse.grading.engine import Engine

    scratch = Path(tempfile.mkdtemp(prefix="bench-isolation-"))
    try:
        synthetic(scratch, submissions, seed, with_loops=False, with_hostile=False)
        items = [
            (p.parent.parent.name, CHAPTER, p)
            for p in sorted((scratch / "submitted").glob(f"*/{CHAPTER}/{CHAPTER}.ipynb"))
        ]
        sources = {CHAPTER: nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)}
        seconds, scores, steps = {}, {}, {}
        for name, isolated in (("on", True), ("off", False)):
            engine = Engine(sources, time_limit=timeout, isolation=isolated)
            engine.grade(items[:2], progress=False)  # warm: fork server, expected values
            engine.sandbox_ms.clear()
            start = time.perf_counter()
            results = engine.grade(items, progress=False)
            seconds[name] = time.perf_counter() - start
            scores[name] = [r.score for r in results]
            steps[name] = {step: sum(ms) / len(ms) for step, ms in engine.sandbox_ms.items()}
        assert scores["on"] == scores["off"], "the sandbox changed a grade"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "submissions": len(items),
        "on_seconds": seconds["on"],
        "off_seconds": seconds["off"],
        "on_rate": 60 * len(items) / seconds["on"],
        "off_rate": 60 * len(items) / seconds["off"],
        "step_ms": steps["on"],
    }


def term(students: int, timeout: float, seed: int) -> None:
    """Grade ``students`` synthetic submissions of every chapter in one `course.grade` run."""
    root = Path(tempfile.mkdtemp(prefix="bench-term-"))
    shutil.copyfile(course.COURSE / "nbgrader_config.py", root / "nbgrader_config.py")
    chapters = course.chapter_names()
    for n, chapter in enumerate(chapters):
        synthetic(root, students, seed + n, False, chapter)
    start = time.perf_counter()
    results = course.grade(root, chapters, time_limit=timeout, progress=False)
    seconds = time.perf_counter() - start
    print(
        f"machine: {os.cpu_count()} cores; {len(chapters)} chapters x {students} students = {len(results)} submissions"
    )
    print(
        f"graded in {seconds:.1f} s ({60 * len(results) / seconds:.0f} per minute), reports included; class report: "
        f"{root / 'class_report.html'}"
    )


if __name__ == "__main__":
    main()
