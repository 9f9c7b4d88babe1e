"""The chapter notebooks: single source in solutions/, student editions in chapters/."""
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "autograde"))
import course  # noqa: E402

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def test_there_are_chapters():
    assert SOLUTIONS, "no notebooks in solutions/"
    assert [p.name for p in CHAPTERS] == [p.name for p in SOLUTIONS], "chapters/ and solutions/ hold different notebooks"


@pytest.mark.parametrize("path", SOLUTIONS + CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them (Kernel > Restart and clear outputs)"


def test_student_editions_are_up_to_date(tmp_path):
    """Regenerate every chapter with nbgrader into a scratch course directory and compare."""
    fresh = course.release([p.stem for p in SOLUTIONS], root=tmp_path / "course", dest=tmp_path / "chapters")
    for path in fresh:
        committed = ROOT / "chapters" / path.name
        assert json.loads(path.read_text()) == json.loads(committed.read_text()), (
            f"chapters/{path.name} is stale: run `make release` and commit the result"
        )


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_source_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if "grade_id" in nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade_ids in {path.name}: {ids}"
    solutions = [c for c in nb.cells if nbgrader_meta(c).get("solution")]
    graded = [c for c in nb.cells if nbgrader_meta(c).get("grade")]
    assert solutions and graded, "a chapter needs graded exercises"
    for cell in solutions:
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, nbgrader_meta(cell)["grade_id"]
    for cell in graded:
        gid = nbgrader_meta(cell)["grade_id"]
        assert nbgrader_meta(cell).get("points", 0) > 0, f"{gid} has no points"
        visible, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
        assert hidden and "### END HIDDEN TESTS" in hidden, f"{gid} has no hidden tests"
        assert re.search(r"\bgrade\.check_\w+\(", visible), f"{gid} has no visible test"
    for cell in solutions + graded:  # the book renders the student edition, where these raise
        assert {"raises-exception", "remove-output"} <= set(cell.metadata.get("tags", [])), nbgrader_meta(cell)["grade_id"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_edition_hides_solutions_and_hidden_tests(path):
    text = path.read_text()
    for secret in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert secret not in text, f"{path.name} leaks '{secret}'"
    assert "raise NotImplementedError()" in text


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_setup_cell_installs_from_the_configured_repository(path):
    """The first code cell installs llmcourse in Colab from the repository of _config.yml."""
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert 'find_spec("llmcourse") is None' in first_code.source, "the first code cell must be the set-up cell"
    assert f"git+{CONFIG['repository']['url']}" in first_code.source, "set-up cell and _config.yml disagree on the repository URL"


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for path in CHAPTERS:
        assert f"file: chapters/{path.stem}" in toc, f"{path.name} is missing from _toc.yml"
    assert "colab_url" in CONFIG["launch_buttons"]
