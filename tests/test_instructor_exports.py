"""Issue 22, items 5 and 6: the instructor's overrides (points, comments, "excused") survive
re-grades and reach every report; the LMS exports import as they are. Each export is read back
here the way its LMS reads it (ported from Moodle's and Canvas's importers, cited per test)."""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
from llmcourse.grading import ch02, overrides, term  # noqa: E402
from llmcourse.grading import cli as course  # noqa: E402

CH = "02_transformer_anatomy"
SOLUTION = (ROOT / "solutions" / f"{CH}.ipynb").read_text()
FULL = sum(e.points for e in ch02.EXERCISES.values())  # chapter 02's full marks
WHEN = (2026, 10, 1, 9, 0, 0)
COMMENT = "Your mask convention follows the chapter's first draft: full marks for attention."


def _without_scaling(text: str) -> str:
    nb = nbformat.reads(text, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "attention")
    cell.source = cell.source.replace("/ math.sqrt(q.shape[-1])", "")
    return nbformat.writes(nb)


def _write_overrides(root: Path, entries: str) -> None:
    (root / "overrides.toml").write_text(entries, encoding="utf-8")


OVERRIDES = f'''
[[override]]
student = "1003"
chapter = "{CH}"
comment = "{COMMENT}"
[override.points]
scaled_dot_product_attention = 4

[[override]]
student = "1009"
chapter = "{CH}"
excused = true
comment = "Excused: medical certificate."
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A class from a Canvas and a Moodle download: 1001 (Canvas, correct), 1002 (Canvas, no
    1/sqrt(d)), 1003 (Moodle, no 1/sqrt(d), overridden to full marks), 1009 (roster, excused),
    1010 (roster, nothing handed in)."""
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text((course.COURSE / "nbgrader_config.py").read_text())
    wrong = _without_scaling(SOLUTION)
    download = root / "download.zip"
    with zipfile.ZipFile(download, "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"lovelaceada_1001_70001_{CH}.ipynb", WHEN), SOLUTION)
        zf.writestr(zipfile.ZipInfo(f"turingalan_LATE_1002_70002_{CH}.ipynb", WHEN), wrong)
        zf.writestr(zipfile.ZipInfo(f"Grace Hopper_1003_assignsubmission_file_/{CH}.ipynb", WHEN), wrong)
    (root / "roster.csv").write_text(
        "id,name,email\n1001,Ada Lovelace,ada@example.org\n1002,Alan Turing,alan@example.org\n"
        "1003,Grace Hopper,grace@example.org\n1009,Emmy Noether,emmy@example.org\n1010,Joan Clarke,joan@example.org\n"
    )
    (root / "term.toml").write_text('roster = "roster.csv"\n')
    _write_overrides(root, OVERRIDES)
    course.grade(root, source=download, time_limit=20, progress=False)
    return root


def _grades(root: Path) -> dict[str, dict]:
    return {r["student"]: r for r in csv.DictReader(open(root / "grades.csv", encoding="utf-8"))}


def _exported(root: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    CsvExportPlugin(to=str(root / "nbgrader_export.csv")).export(Gradebook(course.gradebook_url(root)))
    return {
        r["student_id"]: float(r["score"])
        for r in csv.DictReader(open(root / "nbgrader_export.csv"))
        if r["assignment"] == CH
    }


def test_an_override_reaches_every_report(graded):
    rows = _grades(graded)
    unscaled = rows["1002"]["score"]  # the grader's score of the answer without 1/sqrt(d)
    assert float(unscaled) < FULL and rows["1003"]["score"] == f"{FULL:g}", "the override sets attention to 4/4"
    assert (
        "scaled_dot_product_attention 4/4 overridden: set to 4/4 by the instructor; the grader gave "
        in rows["1003"]["notes"]
    )
    assert COMMENT in rows["1003"]["notes"]
    feedback = (graded / "feedback" / "1003" / CH / f"{CH}.html").read_text()
    assert f"Score: {FULL:g} / {FULL:g}" in feedback and "full marks for attention" in feedback
    canvas = {r["ID"]: r for r in csv.DictReader(open(graded / "canvas_grades.csv", encoding="utf-8"))}
    assert canvas["1003"][CH] == f"{FULL:g}" and canvas["1002"][CH] == unscaled
    assert _exported(graded)["1003"] == FULL, "nbgrader export disagrees with grades.csv"
    from nbgrader.api import Gradebook

    with Gradebook(course.gradebook_url(graded)) as gb:
        cell = next(
            g for g in gb.find_submission_notebook(CH, CH, "1003").grades if g.max_score == 4 and g.auto_score < 4
        )
        assert cell.manual_score == 4, "the override is nbgrader's manual score, the grader's stays the auto score"


def test_excused_is_excused_everywhere(graded):
    rows = _grades(graded)
    assert rows["1009"]["status"] == "excused" and rows["1009"]["score"] == ""
    assert rows["1010"]["status"] == "missing" and rows["1010"]["score"] == "0"
    canvas = {r["ID"]: r for r in csv.DictReader(open(graded / "canvas_grades.csv", encoding="utf-8"))}
    assert canvas["1009"][CH] == "EX" and canvas["1010"][CH] == "0", "EX is Canvas's excused"
    moodle = {r["Email address"]: r for r in csv.DictReader(open(graded / "moodle_grades.csv", encoding="utf-8"))}
    assert moodle["emmy@example.org"][CH] == "" and "excused" in moodle["emmy@example.org"][f"{CH} feedback"]
    assert "1009" not in _exported(graded) or _exported(graded)["1009"] == 0.0
    assert "Excused" in (graded / "pages" / CH / "1009.html").read_text()


def test_overrides_survive_a_regrade_and_removing_one_restores_the_grader(graded, capsys):
    course.grade(graded, [CH], regrade=True, progress=False)
    unscaled = _grades(graded)["1002"]["score"]
    assert _grades(graded)["1003"]["score"] == f"{FULL:g}"
    (graded / "overrides.toml").rename(graded / "overrides.off")
    try:
        capsys.readouterr()
        course.grade(graded, [CH], progress=False)
        assert "grading 0 submissions" in capsys.readouterr().out, "an override change needs no re-grading"
        rows = _grades(graded)
        assert rows["1003"]["score"] == unscaled and "instructor" not in rows["1003"]["notes"]
        assert rows["1009"]["status"] == "missing"
        assert _exported(graded)["1003"] == float(unscaled)
    finally:
        (graded / "overrides.off").rename(graded / "overrides.toml")
        course.grade(graded, [CH], progress=False)
    assert _exported(graded)["1003"] == FULL


@pytest.mark.parametrize(
    "entry, message",
    [
        (f'student = "1003"\nchapter = "{CH}"\n[override.points]\nattention = 4\n', "has no exercise 'attention'"),
        (f'student = "1003"\nchapter = "{CH}"\n[override.points]\nscaled_dot_product_attention = 5\n', "from 0 to 4"),
        ('student = "1003"\nchapter = "02_transformers"\n', "needs a student and a chapter"),
        (f'student = "1003"\nchapter = "{CH}"\nexcused = "yes"\n', "true or false"),
        (f'student = "1003"\nchapter = "{CH}"\npoint = 3\n', "unknown keys"),
    ],
)
def test_a_wrong_override_stops_the_run_naming_the_entry(tmp_path, entry, message):
    path = tmp_path / "overrides.toml"
    path.write_text("[[override]]\n" + entry)
    with pytest.raises(term.SettingsError, match=message) as caught:
        overrides.read_overrides(path, course.chapter_names())
    assert "override 1" in str(caught.value)


def test_the_command_line_refuses_a_wrong_overrides_file(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "overrides.toml"
    bad.write_text(f'[[override]]\nstudent = "1"\nchapter = "{CH}"\n[override.points]\nnope = 1\n')
    monkeypatch.setattr(
        course, "grade", lambda **kwargs: overrides.read_overrides(kwargs["overrides_file"], course.chapter_names())
    )
    assert course.main(["grade", "--overrides", str(bad)]) == 2
    assert "has no exercise 'nope'" in capsys.readouterr().err


# ---------------------------------------------------------------- Moodle


def _moodle_import(path: Path) -> dict[str, tuple[str, float | None, str]]:
    """What Moodle's offline worksheet importer reads (mod/assign/feedback/offline/
    importgradeslib.php): the columns by their headers, "Participant <id>" rows, strtotime of
    "Last modified (grade)"; unformat_float of "Grade". -> participant id: (grade, when, feedback)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    index = {name: header.index(name) for name in ("Identifier", "Grade", "Last modified (grade)", "Feedback comments")}
    read = {}
    for row in rows:
        identifier = row[index["Identifier"]]
        assert identifier.startswith("Participant "), identifier
        grade = row[index["Grade"]]
        when = row[index["Last modified (grade)"]]
        read[identifier.removeprefix("Participant ")] = (
            float(grade) if grade else None,
            datetime.fromisoformat(when) if when else None,
            row[index["Feedback comments"]],
        )
    return read


def test_the_moodle_worksheet_imports_as_moodle_reads_it(graded):
    path = graded / "export" / f"{CH}_moodle_worksheet.csv"
    header = next(csv.reader(open(path, encoding="utf-8")))
    assert header == [
        "Identifier",
        "Full name",
        "Email address",
        "Status",
        "Grade",
        "Maximum Grade",
        "Grade can be changed",
        "Last modified (submission)",
        "Last modified (grade)",
        "Feedback comments",
    ], "Moodle's own columns"
    read = _moodle_import(path)
    assert set(read) == {"1003"}, "only Moodle's participants"
    grade, when, feedback = read["1003"]
    assert grade == FULL and when.tzinfo is not None and COMMENT in feedback
    row = next(csv.DictReader(open(path, encoding="utf-8")))
    assert (
        row["Full name"] == "Grace Hopper"
        and row["Email address"] == "grace@example.org"
        and row["Maximum Grade"] == f"{FULL:g}"
    )


def test_a_worksheet_downloaded_from_moodle_is_filled_in(graded):
    """Every participant of the Moodle assignment, matched by participant id or by email."""
    template = graded / "lms" / f"{CH}_moodle_worksheet.csv"
    template.parent.mkdir(exist_ok=True)
    maximum = f"{FULL:.2f}"  # the assignment's "Maximum Grade", as Moodle writes it
    columns = [
        "Identifier",
        "Full name",
        "Email address",
        "Status",
        "Grade",
        "Maximum Grade",
        "Grade can be changed",
        "Last modified (submission)",
        "Online text",
        "Last modified (grade)",
        "Feedback comments",
    ]
    with open(template, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerow(
            [
                "Participant 1003",
                "Grace Hopper",
                "grace@example.org",
                "Submitted for grading",
                "",
                maximum,
                "Yes",
                "",
                "",
                "-",
                "",
            ]
        )
        writer.writerow(
            [
                "Participant 5510",
                "Joan Clarke",
                "joan@example.org",
                "No submission",
                "",
                maximum,
                "Yes",
                "-",
                "",
                "-",
                "",
            ]
        )
        writer.writerow(
            [
                "Participant 5511",
                "Ada Lovelace",
                "ADA@example.org",
                "No submission",
                "",
                maximum,
                "Yes",
                "-",
                "",
                "-",
                "",
            ]
        )
        writer.writerow(
            [
                "Participant 5599",
                "Someone Else",
                "else@example.org",
                "No submission",
                "",
                maximum,
                "Yes",
                "-",
                "",
                "-",
                "",
            ]
        )
    try:
        course.grade(graded, [CH], progress=False)
        path = graded / "export" / f"{CH}_moodle_worksheet.csv"
        assert next(csv.reader(open(path, encoding="utf-8"))) == columns, "Moodle's columns kept as it wrote them"
        rows = {r["Identifier"]: r for r in csv.DictReader(open(path, encoding="utf-8"))}
        assert rows["Participant 1003"]["Grade"] == f"{FULL:g}"
        assert rows["Participant 5510"]["Grade"] == "0", "a roster student with nothing handed in, matched by email"
        assert rows["Participant 5511"]["Grade"] == f"{FULL:g}", "graded from Canvas, matched by email"
        assert rows["Participant 5599"]["Grade"] == "" and rows["Participant 5599"]["Last modified (grade)"] == "-", (
            "left as Moodle wrote it"
        )
    finally:
        template.unlink()
        course.grade(graded, [CH], progress=False)


def _moodle_feedback_file(path: str) -> tuple[str, str, str, str] | None:
    """Moodle's reading of a feedback zip entry (mod/assign/feedback/file/importziplib.php,
    is_valid_filename_for_import): the first path part with four '_'-separated fields gives
    (participant id, plugin type, plugin name, the file's name)."""
    parts = path.split("/")
    while parts:
        info = parts.pop(0).split("_", 4)
        if len(info) < 4 or not info[1].isdigit():
            continue
        return info[1], info[2], info[3], "/".join([info[4] if len(info) > 4 else "", *parts]).strip("/")
    return None


def test_the_moodle_feedback_zip_files_each_page_to_its_participant(graded):
    with zipfile.ZipFile(graded / "export" / f"{CH}_moodle_feedback.zip") as zf:
        names = zf.namelist()
    assert [_moodle_feedback_file(n) for n in names] == [("1003", "assignfeedback", "file", f"{CH}_feedback.html")]


# ---------------------------------------------------------------- Canvas


def _canvas_comment_context(filename: str) -> tuple[str, str] | None:
    """Canvas's reading of a re-uploaded file (app/models/assignment.rb,
    infer_comment_context_from_filename): the first two all-digit '_'-parts of the base name are
    the user id and the attachment id."""
    digits = [part for part in filename.split("/")[-1].split("_") if part.isdigit()]
    return (digits[0], digits[1]) if len(digits) >= 2 else None


def test_the_canvas_feedback_zip_attaches_each_page_to_its_submission(graded):
    with zipfile.ZipFile(graded / "export" / f"{CH}_canvas_feedback.zip") as zf:
        names = sorted(zf.namelist())
        assert all("/" not in n for n in names), "Canvas reads flat files"
        assert names[1].startswith("turingalan_LATE_1002_70002_") and "Score: " in zf.read(names[1]).decode()
    assert [_canvas_comment_context(n) for n in names] == [("1001", "70001"), ("1002", "70002")]


# ---------------------------------------------------------------- the class report


def test_the_class_report_drills_down_to_students_and_their_pages(graded):
    page = (graded / "class_report.html").read_text(encoding="utf-8")
    attention = page[page.index("<b>scaled_dot_product_attention</b>") :]
    row = attention[: attention.index("</tr>")]
    assert "<td>1/3</td>" in row, "1003's override is not a pass of the grader's requirement"
    assert f"pages/{CH}/1002.html" in row and f"pages/{CH}/1003.html" in row and "1001.html" not in row
    assert "Likely mistakes (students)" in page and "students did not pass" in page
    submission = (graded / "pages" / CH / "1002.html").read_text(encoding="utf-8")
    assert "class='answer'" in submission and "def scaled_dot_product_attention" in submission
    assert "without the 1/sqrt(d) scaling" in submission
    assert json.loads((graded / "results" / "1003" / f"{CH}.json").read_text())["result"]["overridden"] == {}, (
        "overrides are never stored in the results"
    )
