"""Similar answers in the class report (llmcourse.grading.similarity, copydetect's winnowing).

Planted copies (every local renamed, comments replaced, functions and methods reordered) of
every graded exercise's solution must be listed; the mutation suite's valid alternatives,
written independently, must not be; the report shows listed pairs side by side.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
from llmcourse.grading import cli as course  # noqa: E402
from llmcourse.grading import similarity, term  # noqa: E402
from llmcourse.grading.alternatives import alternatives_of  # noqa: E402
from llmcourse.grading.loading import exercises_of  # noqa: E402
from planted_copies import disguise  # noqa: E402

CHAPTERS = sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))


def _cell(path: Path, grade_id: str) -> str:
    nb = nbformat.read(path, as_version=4)
    source = next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return re.sub(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", "", source, flags=re.M)


def test_planted_copies_are_listed_and_independent_alternatives_are_not():
    settings = similarity.Settings()
    listed, planted, too_short, wrong = 0, 0, [], []
    for chapter in CHAPTERS:
        for key, exercise in exercises_of(chapter).items():
            starter = _cell(ROOT / "chapters" / f"{chapter}.ipynb", exercise.cell)
            solution = _cell(ROOT / "solutions" / f"{chapter}.ipynb", exercise.cell)
            answers = {
                "original": solution,
                "copy": disguise(solution),
                **{f"alternative{i}": code for i, code in enumerate(alternatives_of(chapter)[key])},
            }
            pairs = {
                p.students: p.similarity
                for p in similarity.similar_pairs(chapter, exercise.name, answers, starter, settings)
            }
            listed += len(pairs)
            if ("copy", "original") in pairs:
                planted += 1
            elif (
                similarity._fingerprint(solution, sorted(similarity._fingerprint(starter).hashes)).token_coverage
                < settings.min_tokens
            ):
                too_short.append(f"{chapter}/{key}")
            else:
                wrong.append(f"{chapter}/{key}: the planted copy was not listed")
            wrong += [
                f"{chapter}/{key}: {pair} listed ({s:.2f})" for pair, s in pairs.items() if pair != ("copy", "original")
            ]
    precision = planted / listed
    print(
        f"similarity on the planted set: {planted} copies listed, precision {precision:.2f}, "
        f"not compared (too short): {too_short}"
    )
    assert not wrong, wrong
    assert precision == 1.0 and planted >= 25
    assert len(too_short) <= 2, f"answers too short to compare: {too_short}"


def test_starter_code_and_unanswered_cells_are_not_compared():
    starter = 'def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'
    long_body = "\n".join(f"    y{i} = x * {i} + (x - {i}) ** 2" for i in range(12)) + "\n    return y0\n"
    answers = {"ada": starter, "bob": starter, "cy": "", "dee": 'def f(x):\n    """Doc."""\n' + long_body}
    assert similarity.similar_pairs("01", "f", answers, starter) == []
    twins = {
        "ada": 'def f(x):\n    """Doc."""\n' + long_body,
        "bob": 'def f(z):\n    """Mine."""\n' + long_body.replace("x", "z"),
    }
    [pair] = similarity.similar_pairs("01", "f", twins, starter)
    assert pair.students == ("ada", "bob") and pair.similarity > 0.95 and pair.shared[0]


def test_settings_come_from_the_term(tmp_path):
    (tmp_path / "term.toml").write_text("[similarity]\nthreshold = 0.9\nmin_tokens = 60\n")
    assert term.read_term(tmp_path / "term.toml").similarity == similarity.Settings(0.9, 60)
    assert term.read_term(tmp_path / "missing.toml").similarity == similarity.Settings()
    (tmp_path / "term.toml").write_text("[similarity]\nthreshold = 80\n")
    with pytest.raises(ValueError, match="threshold must be in"):
        term.read_term(tmp_path / "term.toml")
    (tmp_path / "term.toml").write_text("[similarity]\nthresold = 0.8\n")
    with pytest.raises(ValueError, match="unknown keys"):
        term.read_term(tmp_path / "term.toml")


def test_class_report_lists_the_copied_pair_side_by_side(tmp_path):
    chapter = "02_transformer_anatomy"
    root = tmp_path / "course"
    root.mkdir()
    shutil.copyfile(course.COURSE / "nbgrader_config.py", root / "nbgrader_config.py")
    exercise = exercises_of(chapter)["attention"]
    solution = _cell(ROOT / "solutions" / f"{chapter}.ipynb", exercise.cell)
    answers = {
        "ada": solution,
        "bob": disguise(solution),
        "cy": alternatives_of(chapter)["attention"][0],
        "dee": alternatives_of(chapter)["attention"][1],
    }
    for student, code in answers.items():
        nb = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
        next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise.cell).source = code
        folder = root / "submitted" / student / chapter
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{chapter}.ipynb")
    results = course.grade(root, [chapter], progress=False)
    assert {r.student: e.status for r in results for e in r.exercises if e.name == exercise.name} == dict.fromkeys(
        answers, "passed"
    )
    pairs = course.similar_answers(root, [chapter], similarity.Settings())
    between_students = [p for p in pairs if not any(s.startswith(similarity.COURSE) for s in p.students)]
    assert [(p.exercise, p.students) for p in between_students] == [(exercise.name, ("ada", "bob"))]
    page = (root / "class_report.html").read_text()
    assert "Similar answers" in page and "ada</b>" in page and "bob</b>" in page and "<mark>" in page
    assert "cy and dee" not in page and "ada and cy" not in page
    # issue 22: near-copies of the course's own code (its solution, a valid alternative) are for review
    of_course = {frozenset(p.students) for p in pairs if p not in between_students}
    assert {
        frozenset({"ada", "course: solution"}),
        frozenset({"bob", "course: solution"}),
        frozenset({"cy", "course: alternative 1"}),
        frozenset({"dee", "course: alternative 2"}),
    } <= of_course
    assert (
        "Near-copies of the course&#x27;s own code (needs review)" in page
        or "Near-copies of the course's own code" in page
    )


def test_the_course_code_compared_is_its_solution_alternatives_and_reference():
    code = similarity.course_code(
        "02_transformer_anatomy", "attention", ROOT / "solutions" / "02_transformer_anatomy.ipynb"
    )
    assert {
        "course: solution",
        "course: alternative 1",
        "course: llmcourse.attention.scaled_dot_product_attention",
    } <= set(code)
    assert "def scaled_dot_product_attention" in code["course: llmcourse.attention.scaled_dot_product_attention"]
    assert code["course: alternative 1"] == alternatives_of("02_transformer_anatomy")["attention"][0]
