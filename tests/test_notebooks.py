"""The chapter notebooks: single source in solutions/, student editions in chapters/."""

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
from llmcourse.grading import cli as course  # noqa: E402

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def test_there_are_chapters():
    assert SOLUTIONS, "no notebooks in solutions/"
    assert [p.name for p in CHAPTERS] == [p.name for p in SOLUTIONS], (
        "chapters/ and solutions/ hold different notebooks"
    )


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
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, nbgrader_meta(cell)[
            "grade_id"
        ]
    for cell in graded:
        gid = nbgrader_meta(cell)["grade_id"]
        assert nbgrader_meta(cell).get("points", 0) > 0, f"{gid} has no points"
        visible, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
        assert hidden and "### END HIDDEN TESTS" in hidden, f"{gid} has no hidden tests"
        assert re.search(r"\bgrade\.check_\w+\(", visible), f"{gid} has no visible test"
    for cell in solutions + graded:  # the book renders the student edition, where these raise
        assert {"raises-exception", "remove-output"} <= set(cell.metadata.get("tags", [])), nbgrader_meta(cell)[
            "grade_id"
        ]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_edition_hides_solutions_and_hidden_tests(path):
    text = path.read_text()
    for secret in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert secret not in text, f"{path.name} leaks '{secret}'"
    assert "raise NotImplementedError()" in text


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_setup_cell_installs_from_the_configured_repository(path):
    """The first code cell installs llmcourse in Colab from the repository of _config.yml, at
    the release tag of pyproject.toml's version."""
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert 'find_spec("llmcourse") is None' in first_code.source, "the first code cell must be the set-up cell"
    assert f"git+{CONFIG['repository']['url']}" in first_code.source, (
        "set-up cell and _config.yml disagree on the repository URL"
    )
    pinned = f'git+{CONFIG["repository"]["url"]}@{course.course_release()}"'
    assert pinned in first_code.source, (
        f"the set-up cell must install the course's release {course.course_release()} "
        "(pyproject.toml's version), not the default branch: run `make release`"
    )


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for path in CHAPTERS:
        assert f"file: chapters/{path.stem}" in toc, f"{path.name} is missing from _toc.yml"
    assert "colab_url" in CONFIG["launch_buttons"]


# --- what readers expect of every chapter (issue 10) -----------------------------------------


def _markdown_index(nb, pattern: str) -> int:
    """Index of the first markdown cell matching ``pattern`` (a regex), or -1."""
    return next(
        (i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and re.search(pattern, c.source, re.M)), -1
    )


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_chapter_opens_with_objectives_and_time(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    opening = _markdown_index(nb, r"^\*\*In this chapter you will\*\*")
    assert 0 <= opening < first_code, f"{path.name}: no 'In this chapter you will' list before the first code cell"
    cell = nb.cells[opening].source
    objectives = re.findall(r"^- \S", cell, re.M)
    assert 3 <= len(objectives) <= 8, f"{path.name}: {len(objectives)} learning objectives"
    assert re.search(r"^\*\*Time:\*\* about \d+ minutes", cell, re.M), f"{path.name}: no time estimate"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_chapter_ends_with_summary_practice_reading_and_references(path):
    nb = nbformat.read(path, as_version=4)
    order = [
        _markdown_index(nb, rf"^## {h}\b") for h in ("Summary", "Try it yourself", "Further reading", "References")
    ]
    assert all(i >= 0 for i in order), (
        f"{path.name}: missing one of Summary / Try it yourself / Further reading / References: {order}"
    )
    assert order == sorted(order), f"{path.name}: the closing sections are out of order"
    last_graded = max(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade"))
    assert order[0] > last_graded, f"{path.name}: the summary comes before the last exercise"
    references = nb.cells[order[3]].source
    assert "```{bibliography}" in references and ":filter: docname in docnames" in references
    reading = nb.cells[order[2]].source
    assert len(re.findall(r"\{cite:[tp]\}`", reading)) >= 3, f"{path.name}: further reading cites fewer than 3 works"
    practice = nb.cells[order[1]].source
    assert len(re.findall(r"^\s*(?:\d+\.|-) \S", practice, re.M)) >= 3, f"{path.name}: fewer than 3 exercises to try"


def _bib_entries() -> list[tuple[str, str, str]]:
    """(file, key, normalised title) of every entry of the book's .bib files."""
    files = [ROOT / f for f in CONFIG["sphinx"]["config"]["bibtex_bibfiles"]]
    entries = []
    for file in files:
        text = file.read_text()
        for match in re.finditer(r"@\w+\{([^,\s]+),(.*?)\n\}", text, re.S):
            title = re.search(r"\btitle\s*=\s*\{(.*?)\},?\s*\n", match.group(2), re.S)
            assert title, f"{file.name}: {match.group(1)} has no title"
            entries.append((file.name, match.group(1), re.sub(r"[^a-z0-9]", "", title.group(1).lower())))
    return entries


def test_every_paper_is_in_one_bib_file_once():
    entries = _bib_entries()
    keys = [k for _, k, _ in entries]
    assert len(entries) >= 30
    assert len(keys) == len(set(keys)), f"duplicate keys: {sorted({k for k in keys if keys.count(k) > 1})}"
    titles = [t for _, _, t in entries]
    twins = [(f, k) for f, k, t in entries if titles.count(t) > 1]
    assert not twins, f"the same paper twice: {twins}"


def _cited_keys(path: Path) -> set[str]:
    """The bib keys a notebook's prose cites with {cite}, {cite:p} or {cite:t} roles."""
    nb = nbformat.read(path, as_version=4)
    return {
        key.strip()
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", cell.source)
        for key in group.split(",")
    }


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_citations_name_known_papers(path):
    keys = {k for _, k, _ in _bib_entries()}
    cited = _cited_keys(path)
    assert cited, f"{path.name} cites no paper"
    assert cited <= keys, f"{path.name} cites unknown keys {sorted(cited - keys)}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_figures_are_described(path):
    """Every cell that draws has alt text (cell metadata mystnb.image.alt); those that plot
    measured time say so, since their picture changes from build to build."""
    nb = nbformat.read(path, as_version=4)
    draws = re.compile(r"\bplt\.|\.imshow\(|\.plot\(|subplots\(|diagrams\.\w+\(|\.show\(\)")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not draws.search(cell.source) or nbgrader_meta(cell).get("solution"):
            continue
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
        assert len(alt) >= 40 and not alt.endswith((".png", ".svg")), (
            f"{path.name}, cell {i}: no description of its figure"
        )
        if re.search(r"perf_counter|time\.time\(|timeit", cell.source):
            assert "measured on the machine that built this page" in alt, (
                f"{path.name}, cell {i}: a timing figure must say where it was measured"
            )


def test_papers_cited_by_several_chapters_are_shared():
    """book/bib/chNN.bib holds the papers only chapter NN cites; shared ones go to references.bib."""
    home = {k: f for f, k, _ in _bib_entries()}
    citing: dict[str, set[str]] = {}
    for path in SOLUTIONS:
        for key in _cited_keys(path):
            citing.setdefault(key, set()).add(path.name[:2])
    misplaced = {
        k: (home[k], sorted(c))
        for k, c in citing.items()
        if k in home and home[k] != "references.bib" and (len(c) > 1 or home[k] != f"ch{min(c)}.bib")
    }
    assert not misplaced, f"move these entries: {misplaced}"
    unused = sorted(k for k in home if k not in citing)
    assert not unused, f"entries no chapter cites: {unused}"
