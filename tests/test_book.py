"""Build the book (as `make book` does) into a scratch folder and check what readers see.

The build is shared with tests/test_browser.py (the `book_html` fixture of conftest.py).
"""

import html
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"].rstrip("/")
COLAB = "https://colab.research.google.com/"


def toc_files() -> list[str]:
    """The pages of _toc.yml after the root, in reading order, without suffix."""
    files = []

    def walk(entry):
        if isinstance(entry, dict):
            if "file" in entry:
                files.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                for child in entry.get(key, []):
                    walk(child)

    walk(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    return [re.sub(r"\.(ipynb|md)$", "", f) for f in files]


@pytest.fixture(scope="module")
def built(book_html):
    return book_html


def _solution_lines(chapter: Path) -> list[str]:
    """The lines of a chapter's solutions and hidden tests (long enough to be telling) that
    its student edition does not also show elsewhere (e.g. in a demo or the prose)."""
    nb = nbformat.read(ROOT / "solutions" / chapter.name, as_version=4)
    student = nbformat.read(ROOT / "chapters" / chapter.name, as_version=4)
    shown = "\n".join(cell.source for cell in student.cells)
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line or "### BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "### END SOLUTION" in line or "### END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 25 and line.strip() not in shown:
                lines.append(line.strip())
    return lines


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page(built, chapter):
    page = built / "chapters" / f"{chapter.stem}.html"
    text = page.read_text()
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    # An error shown is an error output (myst-nb's "output traceback") or an error on stderr; the
    # prose and a demo that prints an exception it caught may name one without being an error.
    assert "Traceback" not in plain and 'class="output traceback' not in text, "an error output is shown"
    stderr = html.unescape(
        re.sub(
            r"<[^>]+>",
            "",
            " ".join(
                re.findall(r'<div class="output stderr[^"]*"><div class="highlight"><pre>(.*?)</pre>', text, re.S)
            ),
        )
    )
    errors = re.findall(r"\b\w*Error\b", stderr)
    assert not errors, f"an error is shown on the page: {errors[:3]}"
    assert "NotImplementedError()" in plain, "exercise prompts are missing"
    leaked = [line for line in _solution_lines(chapter) if line in plain]
    assert not leaked, f"solution or hidden-test code is visible: {leaked[:3]}"
    images = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+)"', text)
    assert images, "no figure rendered (executed outputs missing?)"
    for src in images:
        assert (page.parent / src).resolve().exists(), src
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    repo = url.removeprefix("https://github.com/")
    assert f"https://colab.research.google.com/github/{repo}/blob/main/chapters/{chapter.name}" in text, (
        "no Colab launch link to the student notebook"
    )


def test_no_page_shows_a_traceback(built):
    for page in built.rglob("*.html"):
        assert "Traceback (most recent call last)" not in page.read_text(), page


def _pages(built: Path) -> list[Path]:
    return sorted(p for p in built.rglob("*.html") if "_sources" not in p.parts and "_static" not in p.parts)


def test_pages_need_nothing_from_outside(built):
    """Scripts, styles, fonts, images and math come from the build; only the Colab and
    repository links (and links written in a chapter's own text) point outside."""
    for page in _pages(built):
        text = page.read_text()
        for cdn in ("jsdelivr", "unpkg.com", "cdnjs", "googleapis", "require.js", "thebe"):
            assert cdn not in text.lower(), f"{page.relative_to(built)} mentions {cdn}"
        for tag, attr in re.findall(
            r"<(script|img|link|iframe|source|video|audio)\b[^>]*?\b(?:src|href)=\"([^\"]*)\"", text
        ):
            assert "://" not in attr and not attr.startswith("//"), f"{page.relative_to(built)}: <{tag}> loads {attr}"
            if not attr.startswith(("data:", "#")):
                target = (page.parent / attr.split("?")[0].split("#")[0]).resolve()
                assert target.exists(), f"{page.relative_to(built)}: <{tag}> {attr} is not in the build"
        outside_article = re.sub(r"<article.*?</article>", "", text, flags=re.S)
        for href in re.findall(r"<a\b[^>]*\bhref=\"(https?://[^\"]+)\"", outside_article):
            assert href.startswith((COLAB, REPOSITORY)), f"{page.relative_to(built)} links outside: {href}"


def test_math_is_served_by_the_book(built):
    page = (built / "chapters" / f"{CHAPTERS[0].stem}.html").read_text()
    src = re.search(r'<script[^>]*src="([^"]*tex-mml-chtml\.js)[^"]*"', page)
    assert src, "no MathJax script on the page"
    assert (built / "chapters" / src.group(1)).resolve().is_file(), src.group(1)
    assert (built / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir(), "MathJax's fonts are missing"


def test_progress_bars_are_text_not_widgets(built):
    for page in _pages(built):
        text = page.read_text()
        assert "application/vnd.jupyter.widget" not in text, f"{page.relative_to(built)} embeds ipywidgets"
    chapter02 = built / "chapters" / "02_transformer_anatomy.html"
    if chapter02.exists():  # its model load shows Hugging Face's progress bar, finished
        assert re.search(r"Loading weights: 100%\|\u2588+\|", html.unescape(chapter02.read_text())), (
            "progress bar not written as text"
        )


def test_landing_page(built):
    landing = (built / "intro.html").read_text()
    article = html.unescape(re.sub(r"<[^>]+>", "\n", re.search(r"<article.*?</article>", landing, re.S).group(0)))
    assert [line.strip() for line in article.splitlines()].count("Chapters") == 1, (
        "the heading 'Chapters' is not shown exactly once"
    )
    index = (built / "index.html").read_text()
    assert 'rel="icon"' in index and "intro.html" in index


def test_favicon_and_licence_footer(built):
    for page in (built / "intro.html", built / "chapters" / f"{CHAPTERS[0].stem}.html"):
        text = page.read_text()
        icon = re.search(r'<link rel="icon" href="([^"]+)"', text)
        assert icon and (page.parent / icon.group(1)).resolve().is_file(), f"{page.name}: no favicon"
        footer = html.unescape(
            re.sub(r"<[^>]+>", "", re.search(r'<div class="extra_footer">.*?</div>', text, re.S).group(0))
        )
        assert "MIT" in footer and "CC BY 4.0" in footer, footer
        assert f'href="{REPOSITORY}/blob/' in text and "LICENSE-text.md" in text


def test_instructor_edition_shows_solutions_and_hidden_tests(tmp_path):
    """`make book-instructor`'s builder, without executing (the student build runs the code),
    renders solutions/ with its solutions and hidden tests; the student book never does."""
    sys.path.insert(0, str(ROOT / "book"))
    try:
        import instructor
    finally:
        sys.path.remove(str(ROOT / "book"))
    out = instructor.build(tmp_path / "instructor", execute="off")
    chapters = [ROOT / f"{f}.ipynb" for f in toc_files() if f.startswith("chapters/")]
    assert chapters
    for chapter in chapters:
        page = out / "solutions" / f"{chapter.stem}.html"
        plain = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        lines = _solution_lines(chapter)
        assert lines and all(line in plain for line in lines), f"{page.name} lacks solution or hidden-test lines"
        assert "Instructor edition" in page.read_text()
    assert not (out / "chapters").exists(), "the instructor edition also rendered the student notebooks"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_figures_have_alt_text(built, chapter):
    """Every figure is described (cell metadata mystnb.image.alt; Sphinx otherwise writes the
    image's file path as its alt text)."""
    page = (built / "chapters" / f"{chapter.stem}.html").read_text()
    images = re.findall(r'<img\b[^>]*\balt="([^"]*)"[^>]*\bsrc="(\.\./_images/[^"]+)"', page)
    assert images, "no figures found"
    bad = [src for alt, src in images if not alt or "_images/" in alt or len(alt) < 40]
    assert not bad, f"figures without a description: {bad}"


def test_citations_link_to_the_chapters_references(built):
    """{cite:p} roles render as author-year links to the chapter's own reference list."""
    for chapter in CHAPTERS:
        page = (built / "chapters" / f"{chapter.stem}.html").read_text()
        links = re.findall(r'<a class="reference internal" href="(#id\d+)"[^>]*>', page)
        assert links, f"{chapter.stem}: no citation links"
        for href in links[:5]:
            assert f'id="{href[1:]}"' in page, f"{chapter.stem}: citation {href} does not point into the page"
    references = (built / "references.html").read_text()
    assert references.count('class="citation"') + references.count("citation-label") >= 30
