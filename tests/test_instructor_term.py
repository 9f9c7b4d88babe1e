"""An instructor's term without surprises (part of issue 22): identities from LMS downloads,
late rules that follow term.toml, the command line and what git keeps out of the repository."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
from llmcourse.grading import ch02, collect, term  # noqa: E402
from llmcourse.grading import cli as course  # noqa: E402

CH, OTHER = "02_transformer_anatomy", "03_gpt_deep_dive"
CHAPTERS = course.chapter_names()
SOLUTION = json.dumps(nbformat.read(ROOT / "solutions" / f"{CH}.ipynb", as_version=4))
FULL = sum(e.points for e in ch02.EXERCISES.values())  # chapter 02's full marks
OTHER_EDITION = (ROOT / "chapters" / f"{OTHER}.ipynb").read_text()  # stamped metadata.llmcourse.chapter = 03


def _zip(path: Path, files: dict[str, tuple[tuple, str]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, (when, text) in files.items():
            zf.writestr(zipfile.ZipInfo(name, when), text)
    return path


def test_lms_names_become_the_right_students(tmp_path):
    early, late = (2026, 10, 1, 9, 0, 0), (2026, 10, 3, 9, 0, 0)
    download = _zip(
        tmp_path / "canvas.zip",
        {
            f"müllerjürgen_2001_7001_{CH}.ipynb": (early, SOLUTION),  # Canvas keeps accents in names
            f"anonymous_2002_7002_{CH}.ipynb": (early, SOLUTION),  # an anonymous download
            # a resubmission whose zip entry is older than the first upload: Canvas's counter decides
            f"lovelaceada_2003_7003_{CH}.ipynb": (late, SOLUTION),
            f"lovelaceada_2003_7010_{CH}-1.ipynb": (early, SOLUTION),
            f"ada_lovelace_{CH} (1).ipynb": (early, SOLUTION),  # loose, re-downloaded
            f"Copy of grace_hopper_{CH}.ipynb": (early, SOLUTION),
        },
    )
    found = collect.collect(download, tmp_path / "course", CHAPTERS)
    students = {f.student: f for f in found.found}
    assert set(students) == {"2001", "2002", "2003", "ada_lovelace", "grace_hopper"}, found.summary()
    assert students["2003"].original.endswith("-1.ipynb"), "the resubmission counter wins over the zip's time"
    assert not found.unmatched


def test_a_notebook_of_another_chapter_is_graded_under_the_assignment(tmp_path):
    when = (2026, 10, 1, 9, 0, 0)
    download = _zip(
        tmp_path / "assignment.zip",
        {
            f"lovelaceada_2003_7003_{OTHER}.ipynb": (when, OTHER_EDITION),  # the name says chapter 03
            "hopper_2004_7004_homework.ipynb": (when, OTHER_EDITION),  # only its stamp says so
            f"turingalan_2005_7005_{CH}.ipynb": (when, SOLUTION),
        },
    )
    found = collect.collect(download, tmp_path / "course", CHAPTERS, chapter=CH)
    assert {(f.student, f.chapter) for f in found.found} == {("2003", CH), ("2004", CH), ("2005", CH)}
    notes = {f.student: f.note for f in found.found}
    assert f"a notebook of chapter {OTHER} handed in for {CH}" in notes["2003"]
    assert f"a notebook of chapter {OTHER} handed in for {CH}" in notes["2004"]
    assert notes["2005"] == ""
    assert "2003/02_transformer_anatomy: a notebook of chapter 03" in found.summary()
    assert json.loads((tmp_path / "course" / "submitted" / "2003" / CH / collect.META).read_text())["note"]


def test_nbgrader_timestamps_are_read(tmp_path):
    (tmp_path / "timestamp.txt").write_text("2026-10-08 10:00:00.000000 UTC\n")
    assert collect.read_meta(tmp_path)["submitted_at"] == "2026-10-08T10:00:00+00:00"
    (tmp_path / "timestamp.txt").write_text("2026-10-08T10:00:00Z")
    assert collect.read_meta(tmp_path)["submitted_at"] == "2026-10-08T10:00:00+00:00"


def test_an_extension_cancels_an_lms_late_marker():
    the_term = term.Term(
        deadlines={CH: datetime(2026, 10, 5, 23, 59, tzinfo=UTC)},
        extensions={"ada": {CH: 48}},
        percent_per_day=10,
        marker_days=1,
    )
    assert the_term.days_late("ada", CH, None, late_marker=True) == 0
    assert the_term.days_late("bob", CH, None, late_marker=True) == 1
    assert the_term.days_late("ada", CH, datetime(2026, 10, 8, 12, tzinfo=UTC), late_marker=True) == 1


@pytest.fixture
def graded_class(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    (root / "nbgrader_config.py").write_text((course.COURSE / "nbgrader_config.py").read_text())
    for student, stamp in (("ada", "2026-10-07 12:00:00.000000 UTC"), ("bob", None)):
        folder = root / "submitted" / student / CH
        folder.mkdir(parents=True)
        (folder / f"{CH}.ipynb").write_text(SOLUTION)
        if stamp:
            (folder / "timestamp.txt").write_text(stamp)
    return root


def _rows(root: Path) -> dict:
    return {r["student"]: r for r in csv.DictReader(open(root / "grades.csv"))}


def test_student_grades_exactly_those_students_and_term_changes_apply_without_regrading(graded_class, capsys):
    root = graded_class
    course.grade(root, [CH], students=["ada"], progress=False)
    assert [p.parent.name for p in (root / "results").glob("*/*.json")] == ["ada"], "--student graded someone else"
    course.grade(root, [CH], progress=False)
    assert _rows(root)["ada"]["score"] == f"{FULL:g}" and _rows(root)["ada"]["late_penalty"] == "0"

    (root / "term.toml").write_text(
        f'[deadlines]\n"{CH}" = "2026-10-05T23:59:00+00:00"\n[late_penalty]\npercent_per_day = 10\n'
    )
    capsys.readouterr()
    course.grade(root, [CH], progress=False)
    assert "grading 0 submissions (2 unchanged" in capsys.readouterr().out
    rows = _rows(root)
    two_days = term.read_term(root / "term.toml").penalty(FULL, 2)  # 2 x 10% of full marks
    assert two_days == FULL * 20 / 100
    late = FULL - two_days
    assert rows["ada"]["late_penalty"] == f"{two_days:g}", "nbgrader's time, 2 started days late"
    assert rows["ada"]["score"] == f"{late:g}"
    assert "late by 2 day(s)" in rows["ada"]["notes"] and rows["bob"]["late_penalty"] == "0"
    feedback = (root / "feedback" / "ada" / CH / f"{CH}.html").read_text()
    assert f"Score: {late:g} / {FULL:g}" in feedback and "late by 2 day(s)" in feedback, (
        "the feedback disagrees with grades.csv"
    )
    assert _exported(root) == {"ada": late, "bob": FULL}, "nbgrader export disagrees with grades.csv"

    (root / "gradebook.db").unlink()  # a cleaned gradebook: kept results are recorded again
    course.grade(root, [CH], progress=False)
    assert _exported(root) == {"ada": late, "bob": FULL}

    (root / "term.toml").write_text(
        f'[deadlines]\n"{CH}" = "2026-10-05T23:59:00+00:00"\n'
        f'[extensions.ada]\n"{CH}" = 72\n[late_penalty]\npercent_per_day = 10\n'
    )
    course.grade(root, [CH], progress=False)
    assert _rows(root)["ada"]["late_penalty"] == "0" and "late by" not in _rows(root)["ada"]["notes"]
    assert f"Score: {FULL:g} / {FULL:g}" in (root / "feedback" / "ada" / CH / f"{CH}.html").read_text()
    assert _exported(root) == {"ada": FULL, "bob": FULL}


def _exported(root: Path) -> dict[str, float]:
    """The scores ``nbgrader export`` writes (its CSV plugin, on the course's gradebook)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    plugin = CsvExportPlugin(to=str(root / "nbgrader_export.csv"))
    with Gradebook(course.gradebook_url(root)) as gb:
        plugin.export(gb)
    return {
        r["student_id"]: float(r["score"])
        for r in csv.DictReader(open(root / "nbgrader_export.csv"))
        if r["assignment"] == CH
    }


def test_options_and_chapters_in_any_order():
    args = course.build_parser().parse_intermixed_args(
        ["grade", "--from", "x.zip", CH, "--student", "1", "--student", "2"]
    )
    assert args.chapters == [CH] and args.source == Path("x.zip") and args.student == ["1", "2"]


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(monkeypatch, capsys):
    def interrupted(**_):
        raise KeyboardInterrupt

    monkeypatch.setattr(course, "grade", interrupted)
    assert course.main(["grade"]) == 130
    err = capsys.readouterr().err
    assert "stopped:" in err and "run the same command again to resume" in err and "Traceback" not in err


def test_release_installs_from_the_configured_repository(tmp_path, monkeypatch):
    """A fork changes repository.url in _config.yml; `make release` points every set-up cell at it."""
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nb = nbformat.read(ROOT / "solutions" / f"{CH}.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    setup.source = setup.source.replace(
        "git+https://github.com/llm-course/llm-course", "git+https://github.com/someone/old-fork"
    )
    nbformat.write(nb, solutions / f"{CH}.ipynb")
    monkeypatch.setattr(course, "SOLUTIONS", solutions)
    assert course.pin_setup_cells([CH]) == [solutions / f"{CH}.ipynb"]
    source = next(
        c for c in nbformat.read(solutions / f"{CH}.ipynb", as_version=4).cells if c.cell_type == "code"
    ).source
    assert f'"llmcourse @ git+https://github.com/llm-course/llm-course@{course.course_release()}"' in source


def test_the_class_data_is_ignored_by_git():
    paths = [
        "autograde/roster.csv",
        "autograde/term.toml",
        "autograde/submissions.zip",
        "autograde/submitted/ada/x.ipynb",
        "autograde/results/ada/x.json",
        "autograde/grades.csv",
        "autograde/feedback/ada/x.html",
        "autograde/export/x.zip",
        "autograde/gradebook.db",
        "autograde/class_report.html",
        "autograde/canvas_grades.csv",
        "autograde/moodle_grades.csv",
        ".env",
        "my-work/02.ipynb",
        "autograde/overrides.toml",
        "autograde/nbgrader_grades.csv",
        "autograde/pages/02/ada.html",
        "autograde/lms/02_moodle_worksheet.csv",
    ]
    run = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True)
    assert sorted(run.stdout.split()) == sorted(paths), f"not ignored: {sorted(set(paths) - set(run.stdout.split()))}"


def test_stopping_make_stops_grading_cleanly(tmp_path):
    """Issue 22: `kill <make>` (SIGTERM, which make passes on) stops the grader as Ctrl-C does."""
    import signal
    import time

    script = tmp_path / "grading.py"
    script.write_text(
        "import sys, time\nfrom llmcourse.grading import cli as course\n"
        "try:\n    course.stop_on_sigterm()\n    print('grading', flush=True)\n    time.sleep(60)\n"
        "except KeyboardInterrupt:\n    open('stopped', 'w').write('yes')\n"
    )
    (tmp_path / "Makefile").write_text(f"grade:\n\t{sys.executable} {script}\n")
    make = subprocess.Popen(["make", "-s", "grade"], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    assert make.stdout.readline().strip() == "grading"
    make.send_signal(signal.SIGTERM)
    make.wait(timeout=60)
    for _ in range(100):
        if (tmp_path / "stopped").exists():
            break
        time.sleep(0.1)
    assert (tmp_path / "stopped").read_text() == "yes", "the grader kept running after make was stopped"
