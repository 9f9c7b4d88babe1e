"""Hostile and broken submissions graded through the real path (`make grade` = course.grade):
each gets its exact expected score and a note saying what happened; the files stay untouched."""

import csv
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_submissions import CHAPTER, HOSTILE, OTHER_POINTS, write_submissions  # noqa: E402
from llmcourse.grading import cli as course  # noqa: E402

TIME_LIMIT = 6.0  # seconds per exercise: keeps the two endless loops short


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text((course.COURSE / "nbgrader_config.py").read_text())
    paths = write_submissions(root)
    before = {student: path.read_bytes() for student, path in paths.items()}
    start = time.perf_counter()
    results = course.grade(root, chapters=[CHAPTER], time_limit=TIME_LIMIT, memory_gib=1.0, progress=False)
    seconds = time.perf_counter() - start
    rows = {row["student"]: row for row in csv.DictReader(open(root / "grades.csv"))}
    return root, {r.student: r for r in results}, rows, paths, before, seconds


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda h: h.student)
def test_hostile_submission_gets_its_exact_score_and_note(graded, hostile):
    _, results, rows, _, _, _ = graded
    result, row = results[hostile.student], rows[hostile.student]
    if hostile.expected is None:
        assert result.status == "error" and row["score"] == "", row
    else:
        assert result.status == "graded" and result.score == hostile.expected, (
            f"{hostile.student}: {row['details']} | {row['notes']}"
        )
        assert row["score"] == f"{hostile.expected:g}"
    assert hostile.note in row["notes"] + " | " + row["details"], row["notes"]


def test_student_files_are_never_modified(graded):
    _, _, _, paths, before, _ = graded
    for student, path in paths.items():
        assert path.read_bytes() == before[student], f"{student}'s notebook was modified"


def test_every_submission_has_feedback_and_a_full_log(graded):
    root, results, _, _, _, _ = graded
    for student in results:
        folder = root / "feedback" / student / CHAPTER
        assert (folder / f"{CHAPTER}.html").exists() and (folder / "grading.log").exists(), student
    log = (root / "feedback" / "floods_output" / CHAPTER / "grading.log").read_text()
    assert "[output trimmed by the grader]" in log and len(log) < 200_000
    page = (root / "feedback" / "patches_check" / CHAPTER / f"{CHAPTER}.html").read_text()
    assert "1/sqrt(d)" in page and "✗" in page


def test_the_network_is_cut_or_the_report_says_so(graded):
    _, results, _, _, _, _ = graded
    r = results["warns_and_prints"]
    assert r.network == "cut" or any("network available" in n for n in r.notes)


def test_gradebook_holds_the_scores(graded):
    from nbgrader.api import Gradebook

    root, results, _, _, _, _ = graded
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assert gb.find_submission(CHAPTER, "answers_one_exercise").score == 2
        assert gb.find_submission(CHAPTER, "warns_and_prints").score == 10 + OTHER_POINTS
