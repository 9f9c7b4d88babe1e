"""End-to-end autograding on example submissions, in a scratch copy of the course directory."""
import csv
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "autograde"))
import course  # noqa: E402

CHAPTER = "02_transformer_anatomy"


def _points(chapter):
    nb = nbformat.read(ROOT / "solutions" / f"{chapter}.ipynb", as_version=4)
    meta = [c.metadata["nbgrader"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    return {m["grade_id"]: m["points"] for m in meta}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    course.demo_submissions(root)
    submitted = root / "submitted"
    solution = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)

    def add(student, nb_or_text):
        folder = submitted / student / CHAPTER
        folder.mkdir(parents=True)
        path = folder / f"{CHAPTER}.ipynb"
        if isinstance(nb_or_text, str):
            path.write_text(nb_or_text)
        else:
            nbformat.write(nb_or_text, path)
        return path

    corrupt = add("corrupt", '{"cells": [ this is not json')
    duplicated = nbformat.from_dict(json.loads(json.dumps(solution)))
    index = next(i for i, c in enumerate(duplicated.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "attention")
    copy = nbformat.from_dict(json.loads(json.dumps(duplicated.cells[index])))
    copy["id"] = "duplicate-cell"
    duplicated.cells.insert(index + 1, copy)
    duplicated_path = add("duplicated_cell", duplicated)
    stripped = nbformat.from_dict(json.loads(json.dumps(solution)))
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    stripped_path = add("stripped_metadata", stripped)
    before = {p: p.read_bytes() for p in (corrupt, duplicated_path, stripped_path)}
    add("wrong_name", solution).rename(submitted / "wrong_name" / CHAPTER / "my_copy.ipynb")

    results = course.grade(root, chapters=[CHAPTER])
    return root, {r.student: r for r in results}, before


def test_solution_scores_full_marks(graded):
    _, results, _ = graded
    r = results["solution"]
    assert r.status == "graded" and r.score == r.max_score == sum(_points(CHAPTER).values()), r


def test_untouched_notebook_scores_zero(graded):
    _, results, _ = graded
    r = results["untouched"]
    assert r.status == "graded" and r.score == 0, r


def test_each_planted_bug_costs_exactly_its_exercise(graded):
    _, results, _ = graded
    points = _points(CHAPTER)
    bugs = json.loads(course.PLANTED_BUGS.read_text())[CHAPTER]
    assert bugs
    for bug in bugs:
        r = results[bug["student"]]
        assert r.status == "graded", r
        assert r.score == r.max_score - points[bug["loses"]], f"{bug['student']}: {r.details}"
        assert f"{bug['loses']}=0/" in r.details, r.details


def test_corrupt_submission_is_reported_not_fatal(graded):
    _, results, before = graded
    r = results["corrupt"]
    assert r.status == "error" and "not a readable notebook" in r.notes[0]
    for path, content in before.items():
        assert path.read_bytes() == content, f"grading changed the student's file {path}"


def test_duplicated_cell_is_repaired_and_graded(graded):
    _, results, _ = graded
    r = results["duplicated_cell"]
    assert r.status == "graded" and r.score == r.max_score, r
    assert "more than once" in " ".join(r.notes)


def test_stripped_metadata_is_reported(graded):
    _, results, _ = graded
    r = results["stripped_metadata"]
    assert r.status == "graded", r
    assert "restored lost nbgrader metadata" in " ".join(r.notes)
    assert r.score == r.max_score, f"test cells restored from the source should pass on the solution code: {r}"


def test_misnamed_notebook_is_reported(graded):
    _, results, _ = graded
    r = results["wrong_name"]
    assert r.status == "error" and "my_copy.ipynb" in r.notes[0]


def test_csv_and_feedback_are_written(graded):
    root, results, _ = graded
    rows = list(csv.DictReader(open(root / "grades.csv")))
    assert {row["student"] for row in rows} == set(results)
    for student, r in results.items():
        feedback = root / "feedback" / student / CHAPTER / f"{CHAPTER}.html"
        assert feedback.exists() == (r.status == "graded"), student


def test_unrecognisable_test_cells_are_appended_from_the_source(tmp_path):
    solution = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)
    damaged = nbformat.from_dict(json.loads(json.dumps(solution)))
    damaged.cells = [c for c in damaged.cells if not c.metadata.get("nbgrader", {}).get("grade")]  # tests deleted
    for cell in damaged.cells:
        cell.metadata.pop("nbgrader", None)
    path = tmp_path / f"{CHAPTER}.ipynb"
    nbformat.write(damaged, path)
    repaired, notes = course.prepare_submission(path, solution)
    assert "appended from the source" in " ".join(notes)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in repaired.cells[-3:]]
    assert ids == [g for g in _points(CHAPTER)], ids
