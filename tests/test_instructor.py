"""The instructor's workflow through `course.grade`: an LMS zip with mixed naming, a roster,
deadlines and late work, re-grading one student, an interrupted run, versioned releases, the
class report and the LMS exports."""

import csv
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
from llmcourse.grading import ch02, collect, term  # noqa: E402
from llmcourse.grading import cli as course  # noqa: E402

CH = "02_transformer_anatomy"
SOLUTION = (ROOT / "solutions" / f"{CH}.ipynb").read_text()
UNTOUCHED = (ROOT / "chapters" / f"{CH}.ipynb").read_text()
FULL = sum(e.points for e in ch02.EXERCISES.values())  # chapter 02's full marks
# with_bug edits the attention cell only: the attention-side exercises (positional encoding,
# attention, multi-head attention: 10 points) give 6.5, every other exercise its full points
ATTENTION_SIDE = ("positional_encoding", "attention", "multi_head_attention")
WITH_BUG = 6.5 + sum(e.points for key, e in ch02.EXERCISES.items() if key not in ATTENTION_SIDE)


def with_bug(text: str) -> str:
    nb = nbformat.reads(text, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "attention")
    cell.source = cell.source.replace("/ math.sqrt(q.shape[-1])", "")
    return nbformat.writes(nb)


def make_course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    root.mkdir()
    (root / "nbgrader_config.py").write_text((course.COURSE / "nbgrader_config.py").read_text())
    return root


@pytest.fixture(scope="module")
def term_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("term")
    root = make_course(tmp)
    download = tmp / "submissions.zip"
    old = (2026, 10, 1, 12, 0, 0)
    with zipfile.ZipFile(download, "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"lovelaceada_LATE_1001_5001_{CH}.ipynb", old), SOLUTION)  # Canvas, marked late
        zf.writestr(
            zipfile.ZipInfo(f"turingalan_1002_5002_{CH}.ipynb", old), with_bug(SOLUTION)
        )  # Canvas, then a resubmission
        zf.writestr(zipfile.ZipInfo(f"turingalan_1002_5003_{CH}-1.ipynb", old), SOLUTION)
        zf.writestr(
            zipfile.ZipInfo(f"Grace Hopper_1003_assignsubmission_file_/{CH}.ipynb", old), with_bug(SOLUTION)
        )  # Moodle
        zf.writestr(
            zipfile.ZipInfo(f"{CH}_1004_attempt_2026-10-06-09-30-00_{CH}.ipynb", old), SOLUTION
        )  # Blackboard, late
        zf.writestr(
            zipfile.ZipInfo(f"{CH}_1004_attempt_2026-10-04-09-30-00_{CH}.ipynb", old), UNTOUCHED
        )  # older attempt
        zf.writestr(
            zipfile.ZipInfo(f"{CH}_1005_attempt_2026-10-06-09-30-00_{CH}.ipynb", old), SOLUTION
        )  # late, but extended
        zf.writestr(zipfile.ZipInfo(f"katherine_johnson_{CH}.ipynb", old), UNTOUCHED)  # loose notebook
        zf.writestr(zipfile.ZipInfo("notes.txt", old), "not a notebook")
        zf.writestr(zipfile.ZipInfo("homework.ipynb", old), SOLUTION)  # no chapter id
    (root / "roster.csv").write_text(
        "id,name,email\n1001,Ada Lovelace,ada@example.org\n1002,Alan Turing,alan@example.org\n"
        "1003,Grace Hopper,grace@example.org\n1004,Joan Clarke,joan@example.org\n"
        "1005,Claude Shannon,claude@example.org\n"
        "katherine_johnson,Katherine Johnson,kj@example.org\n1009,Emmy Noether,emmy@example.org\n"
    )
    (root / "term.toml").write_text(
        f'roster = "roster.csv"\n[deadlines]\n"{CH}" = "2026-10-05T23:59:00+00:00"\n'
        f'[extensions.1005]\n"{CH}" = 48\n[late_penalty]\npercent_per_day = 10\nmax_percent = 50\nmarker_days = 1\n'
    )
    results = course.grade(root, source=download, time_limit=20, progress=False)
    rows = {(r["student"], r["chapter"]): r for r in csv.DictReader(open(root / "grades.csv"))}
    return root, download, {r.student: r for r in results}, rows


def test_lms_zip_is_collected_with_its_naming_rules(term_run, capsys):
    root, download, _, _ = term_run
    found = collect.collect(download, root / "scratch", course.chapter_names())
    by_student = {f.student: f for f in found.found}
    assert set(by_student) == {"1001", "1002", "1003", "1004", "1005", "katherine_johnson"}
    assert by_student["1001"].lms == "canvas" and by_student["1001"].late_marker
    assert by_student["1002"].original.endswith("-1.ipynb"), "the Canvas resubmission is newer"
    assert by_student["1003"].lms == "moodle"
    assert "2026-10-06" in by_student["1004"].original, "the newest Blackboard attempt"
    assert {name for name, _ in found.unmatched} == {"notes.txt", "homework.ipynb"}
    summary = found.summary()
    assert "1002/02_transformer_anatomy: several submissions" in summary and "no chapter id" in summary


def test_scores_lateness_and_roster(term_run):
    root, _, results, rows = term_run
    one_day = term.read_term(root / "term.toml").penalty(FULL, 1)  # 10% of full marks
    assert one_day == FULL * 10 / 100
    assert rows[("1002", CH)]["score"] == f"{FULL:g}", "the resubmission (correct) is graded"
    assert rows[("1003", CH)]["score"] == f"{WITH_BUG:g}" and rows[("1003", CH)]["name"] == "Grace Hopper"
    assert rows[("1001", CH)]["late_penalty"] == f"{one_day:g}", "LATE marker: one day, 10%"
    assert rows[("1001", CH)]["score"] == f"{FULL - one_day:g}"
    assert rows[("1004", CH)]["late_penalty"] == f"{one_day:g}" and "late by 1 day" in rows[("1004", CH)]["notes"]
    assert rows[("1005", CH)]["late_penalty"] == "0", "the extension covers it"
    assert rows[("katherine_johnson", CH)]["score"] == "0"
    assert rows[("1009", CH)]["status"] == "missing" and rows[("1009", CH)]["score"] == "0"


def test_class_report_and_lms_exports(term_run):
    root, _, _, _ = term_run
    page = (root / "class_report.html").read_text()
    assert "data:image/png;base64," in page and "scaled_dot_product_attention" in page
    assert "without the 1/sqrt(d) scaling" in page, "likely mistakes from the catalogue"
    canvas = list(csv.reader(open(root / "canvas_grades.csv")))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and canvas[0][5] == CH
    assert canvas[1][0] == "Points Possible"
    moodle = list(csv.DictReader(open(root / "moodle_grades.csv")))
    assert {"Email address", "Full name", CH, f"{CH} feedback"} <= set(moodle[0])
    with zipfile.ZipFile(root / "export" / f"{CH}_feedback.zip") as zf:
        assert f"1001/{CH}.html" in zf.namelist() and f"1003/{CH}.html" in zf.namelist()


def test_a_missing_student_is_the_same_in_every_export(term_run):
    """Issue 22: 0 by default in grades.csv, Canvas and Moodle; blank everywhere with
    [reports] missing = "blank"."""
    from llmcourse.grading import lms, report, term

    root, _, by_student, _ = term_run
    results = list(by_student.values())

    def missing_cells(the_term):
        report.write_csv(results, root / "g.csv", the_term.roster, the_term.missing)
        lms.gradebook_csvs(results, the_term, root)
        grades = next(r["score"] for r in csv.DictReader(open(root / "g.csv")) if r["student"] == "1009")
        canvas = next(r[5] for r in csv.reader(open(root / "canvas_grades.csv")) if r[1] == "1009")
        moodle = next(
            r[CH] for r in csv.DictReader(open(root / "moodle_grades.csv")) if r["Email address"] == "emmy@example.org"
        )
        return {grades, canvas, moodle}

    the_term = term.read_term(root / "term.toml")
    assert missing_cells(the_term) == {"0"}
    the_term.missing = ""
    assert missing_cells(the_term) == {""}
    (root / "t.toml").write_text('[reports]\nmissing = "maybe"\n')
    with pytest.raises(ValueError, match="zero.*blank"):
        term.read_term(root / "t.toml")
    (root / "t.toml").write_text('[reports]\nmissing = "blank"\n')
    assert term.read_term(root / "t.toml").missing == ""


def test_regrading_one_student_replaces_only_that_row(term_run):
    root, _, _, _ = term_run
    others = {p: p.stat().st_mtime_ns for p in (root / "results").glob("*/*.json") if p.parent.name != "1003"}
    (root / "submitted" / "1003" / CH / f"{CH}.ipynb").write_text(SOLUTION)  # Grace fixes her notebook
    course.grade(root, students=["1003"], time_limit=20, progress=False)
    rows = {(r["student"], r["chapter"]): r for r in csv.DictReader(open(root / "grades.csv"))}
    assert rows[("1003", CH)]["score"] == f"{FULL:g}"
    assert rows[("1002", CH)]["score"] == f"{FULL:g}" and rows[("1009", CH)]["status"] == "missing"
    assert {p: p.stat().st_mtime_ns for p in others} == others, "no other student was graded again"


def test_an_interrupted_run_resumes(tmp_path):
    root = make_course(tmp_path)
    for i in range(6):
        folder = root / "submitted" / f"s{i}" / CH
        folder.mkdir(parents=True)
        (folder / f"{CH}.ipynb").write_text(SOLUTION)
    code = (
        "import pathlib; from llmcourse.grading import cli as course; "
        f"course.grade(pathlib.Path({str(root)!r}), chunk=2, progress=False)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list((root / "results").glob("*/*.json"))) < 2:
        time.sleep(0.2)
    os.killpg(process.pid, 9)  # interrupted half-way
    process.wait()
    done = len(list((root / "results").glob("*/*.json")))
    assert 2 <= done < 6
    results = course.grade(root, progress=False)
    assert len(results) == 6 and all(r.score == FULL for r in results)


def test_release_stamps_the_checks_version_and_the_tag_and_copies_nothing(tmp_path):
    written = course.release([CH], root=tmp_path / "course", dest=tmp_path / "chapters")
    stamp = nbformat.read(written[0], as_version=4).metadata["llmcourse"]
    assert stamp == {"chapter": CH, "version": course.checks_version(CH), "release": course.course_release()}
    assert not (tmp_path / "course" / "releases").exists()
