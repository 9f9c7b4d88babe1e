"""The student editions' Markdown renders in JupyterLab and Colab: CommonMark + math, no MyST.

solutions/ is written in MyST for the book; `make release` rewrites citations, admonitions and
the bibliography (book/_ext/student_markdown.py) and keeps each cell's MyST in its metadata,
which the book reads back (course_book.read_student_notebook).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import student_markdown as sm  # noqa: E402
from llmcourse.grading import cli as course  # noqa: E402

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.fixture(scope="module")
def works() -> dict[str, sm.Work]:
    return course.bibliography()


def _markdown_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_edition_markdown_is_commonmark(path):
    found = [
        f"cell {c.get('id', i)}: {what}"
        for i, c in enumerate(_markdown_cells(path))
        for what in sm.myst_only_syntax(c.source)
    ]
    assert not found, (
        f"chapters/{path.name} holds MyST that JupyterLab and Colab show raw "
        f"(run `make release`, or teach book/_ext/student_markdown.py the new syntax): {found[:5]}"
    )


@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.name)
def test_the_book_reads_back_the_myst_source(source):
    """Each student Markdown cell's MyST original is the solution notebook's cell, so the book
    renders exactly what solutions/ says (citations, bibliography, admonitions)."""
    student = sm.with_myst(nbformat.read(ROOT / "chapters" / source.name, as_version=4))
    expected = [c.source for c in _markdown_cells(source)]
    assert [c.source for c in student.cells if c.cell_type == "markdown"] == expected


@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.name)
def test_references_list_every_cited_work_with_its_link(source, works):
    cited = {k for c in _markdown_cells(source) for k in sm.cited_keys(c.source)}
    cells = _markdown_cells(ROOT / "chapters" / source.name)
    references = next(c.source for c in cells if c.source.startswith("## References"))
    items = re.findall(r"^- \*\*(.+?)\.\*\* (.+)$", references, re.M)
    assert len(items) == len(cited), f"{source.name}: {len(items)} references listed, {len(cited)} works cited"
    for key in cited:
        work = works[key]
        assert f"- **{work.short}, {work.year}.**" in references, f"{source.name}: {key} not listed"
        if work.link:
            assert f"]({work.link})" in references, f"{source.name}: {key} listed without its link"
    text = "\n".join(c.source for c in cells)
    for key in cited:  # every citation in the text is a link to the paper (when it has one)
        if works[key].link:
            assert f"]({works[key].link})" in text.split("## References")[0], (
                f"{source.name}: {key} never linked in the text"
            )


def test_every_work_has_an_address(works):
    missing = sorted(k for k, w in works.items() if not w.link)
    assert not missing, f"give these .bib entries a url or doi, so students can open them: {missing}"


# --- the converter, case by case -----------------------------------------------------------


@pytest.fixture
def tiny_works() -> dict[str, sm.Work]:
    return {
        "a2017": sm.Work(
            "a2017", "Vaswani et al.", "2017", "A. Vaswani. Attention.", "https://arxiv.org/abs/1706.03762"
        ),
        "b2019": sm.Work("b2019", "Devlin and Chang", "2019", "J. Devlin. BERT.", ""),
    }


def test_citations_become_author_year_links(tiny_works):
    text = "As shown {cite:p}`a2017, b2019`, and {cite:t}`a2017` says so; {cite}`b2019`."
    assert sm.convert_markdown(text, tiny_works, set()) == (
        "As shown ([Vaswani et al., 2017](https://arxiv.org/abs/1706.03762); Devlin and Chang, 2019), "
        "and [Vaswani et al. (2017)](https://arxiv.org/abs/1706.03762) says so; (Devlin and Chang, 2019)."
    )


def test_code_is_left_alone(tiny_works):
    text = "Use `{cite:p}` or ``{name}`` in code.\n\n```python\nf'{cite:p}`a2017`'\n```\nAfter {cite:t}`b2019`."
    converted = sm.convert_markdown(text, tiny_works, set())
    assert converted.startswith("Use `{cite:p}` or ``{name}`` in code.\n\n```python\nf'{cite:p}`a2017`'\n```\n")
    assert converted.endswith("After Devlin and Chang (2019).")
    assert sm.myst_only_syntax(converted) == []


def test_admonitions_become_block_quotes(tiny_works):
    text = (
        "Intro\n\n```{admonition} How to work\n:class: tip\nRun the cell, see {cite:p}`a2017`.\n\n"
        "Then `submit`.\n```\n\n:::{warning}\nCareful.\n:::"
    )
    assert sm.convert_markdown(text, tiny_works, set()) == (
        "Intro\n\n> **Tip: How to work**\n>\n"
        "> Run the cell, see ([Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)).\n>\n"
        "> Then `submit`.\n\n> **Warning**\n>\n> Careful."
    )


def test_bibliography_lists_the_chapters_works(tiny_works):
    text = "## References\n\n```{bibliography}\n:filter: docname in docnames\n```"
    assert sm.convert_markdown(text, tiny_works, {"b2019", "a2017"}) == (
        "## References\n\n- **Devlin and Chang, 2019.** J. Devlin. BERT.\n"
        "- **Vaswani et al., 2017.** A. Vaswani. Attention."
    )


@pytest.mark.parametrize(
    "text, what",
    [
        ("See {ref}`sec-attention`.", "role {ref}"),
        ("```{figure} plot.png\n:width: 50%\n```", "directive {figure}"),
        ("(sec-attention)=\n## Attention", "target"),
        ("% a comment\nText", "comment"),
        ("{cite:p}`nobody2020`", "no .bib file"),
    ],
)
def test_unknown_syntax_stops_the_release(text, what, tiny_works):
    with pytest.raises(sm.UnsupportedMyST, match=re.escape(what)):
        sm.convert_markdown(text, tiny_works, set())


@pytest.mark.parametrize(
    "text",
    [
        "{cite:p}`a2017`",
        "```{note}\nx\n```",
        ":::{tip}\nx\n:::",
        "(label)=",
        "% comment",
        "+++",
        "{{ version }}",
        "```{bibliography}\n:filter: docname in docnames\n```",
    ],
)
def test_myst_only_syntax_is_found(text):
    assert sm.myst_only_syntax(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Plain *CommonMark* with $x^2$ and $$\\frac{1}{2}$$.",
        "A [link](https://example.org) and `{name}` in code.",
        "```python\n{cite:p}`a`\n```",
        "> **Tip: quoted**\n>\n> body",
        "A dict {'a': 1} in prose.",
    ],
)
def test_commonmark_is_not_flagged(text):
    assert sm.myst_only_syntax(text) == []


def test_release_keeps_the_myst_for_the_book(tiny_works):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("Cite {cite:p}`a2017`."),
            nbformat.v4.new_markdown_cell("Plain."),
            nbformat.v4.new_code_cell("x = '{cite:p}`a2017`'"),
        ]
    )
    student = sm.to_commonmark(nb, tiny_works)
    assert student.cells[0].source == "Cite ([Vaswani et al., 2017](https://arxiv.org/abs/1706.03762))."
    assert student.cells[0].metadata["llmcourse"]["myst"] == "Cite {cite:p}`a2017`."
    assert "llmcourse" not in student.cells[1].metadata  # unchanged cells carry nothing extra
    assert student.cells[2].source == nb.cells[2].source  # code is never touched
    assert nb.cells[0].source == "Cite {cite:p}`a2017`."  # the source notebook is not modified
    assert [c.source for c in sm.with_myst(student).cells] == [c.source for c in nb.cells]
