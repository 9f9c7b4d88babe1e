"""End-to-end autograding on example submissions, in a scratch copy of the course directory."""

import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
from llmcourse.grading import ch02  # noqa: E402
from llmcourse.grading import cli as course  # noqa: E402

CHAPTER = "02_transformer_anatomy"
FULL = sum(e.points for e in ch02.EXERCISES.values())  # chapter 02's full marks


def _points(chapter):
    nb = nbformat.read(ROOT / "solutions" / f"{chapter}.ipynb", as_version=4)
    meta = [c.metadata["nbgrader"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    return {m["grade_id"]: m["points"] for m in meta}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    course.demo_submissions(root)
    folder = root / "submitted" / "wrong_name" / CHAPTER
    folder.mkdir(parents=True)
    (folder / "my_copy.ipynb").write_text((ROOT / "solutions" / f"{CHAPTER}.ipynb").read_text())
    folder = root / "submitted" / "two_notebooks" / CHAPTER
    folder.mkdir(parents=True)
    for name in ("a.ipynb", "b.ipynb"):
        (folder / name).write_text((ROOT / "solutions" / f"{CHAPTER}.ipynb").read_text())
    results = course.grade(root, chapters=[CHAPTER], progress=False)
    return root, {r.student: r for r in results}


def test_solution_scores_full_marks(graded):
    _, results = graded
    r = results["solution"]
    assert r.status == "graded" and r.score == r.max_score == sum(_points(CHAPTER).values()), r


def test_untouched_notebook_scores_zero(graded):
    _, results = graded
    r = results["untouched"]
    assert r.status == "graded" and r.score == 0, r


def test_each_planted_bug_costs_points_in_its_exercise_only(graded):
    _, results = graded
    points = _points(CHAPTER)
    bugs = json.loads(course.PLANTED_BUGS.read_text())[CHAPTER]
    assert bugs
    for bug in bugs:
        r = results[bug["student"]]
        got = dict(part.split("=") for part in r.details.split("; "))
        for cell, max_points in points.items():
            earned = float(got[cell].split("/")[0])
            assert (earned < max_points) if cell == bug["loses"] else (earned == max_points), (
                f"{bug['student']}: {r.details}"
            )


def test_a_notebook_of_another_name_is_graded_and_noted(graded):
    _, results = graded
    assert results["wrong_name"].score == FULL and "graded my_copy.ipynb" in results["wrong_name"].notes[0]
    assert results["two_notebooks"].status == "error" and "a.ipynb, b.ipynb" in results["two_notebooks"].notes[0]


def test_mutation_suite_catches_every_catalogued_mistake(tmp_path):
    """`make mutants`: every catalogued mistake loses points and every valid alternative gets
    full marks, graded by the engine in sandboxed processes, for every chapter (that a bug costs
    only its own exercise is shown by the planted bugs above and tests/test_hostile.py). That no
    mistake passes every visible check (issue 16), the other half of `make mutants`, is
    tests/test_grading_contract.py's, which also checks that the visible checks name it."""
    rows, misses = course.mutants(course.chapter_names(), root=tmp_path, visible=False)
    assert rows and not misses, misses


@pytest.mark.timeout(300)  # a hung fork never finishes: 5 submissions take well under a minute
def test_forking_after_torch_ran_multithreaded_never_hangs(tmp_path):
    """The grader computes expected values with multi-threaded torch; student processes come
    from a server that never ran an op, so they start and finish."""
    import torch

    torch.set_num_threads(2)
    a = torch.randn(512, 512)
    for _ in range(5):
        a = (a @ a).tanh()  # a parallel op in this process
    course.demo_submissions(tmp_path)
    results = course.grade(tmp_path, chapters=[CHAPTER], progress=False, time_limit=20)
    assert all(r.status == "graded" for r in results)
    assert all(e.status != "timeout" for r in results for e in r.exercises)
