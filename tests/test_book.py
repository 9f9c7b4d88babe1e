"""Build the book (as `make book` does) into a scratch folder and check what readers see."""
import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    run = subprocess.run([str(jb), "build", "-W", "--keep-going", "--all", "--path-output", str(out), str(ROOT)], capture_output=True, text=True)
    assert run.returncode == 0, f"book build failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    return out / "_build" / "html"


def _solution_lines(chapter: Path) -> list[str]:
    nb = nbformat.read(ROOT / "solutions" / chapter.name, as_version=4)
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line or "### BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "### END SOLUTION" in line or "### END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 25:
                lines.append(line.strip())
    return lines


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page(built, chapter):
    page = built / "chapters" / f"{chapter.stem}.html"
    text = page.read_text()
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    errors = [word for word in re.findall(r"\b\w*Error\b", plain) if word != "NotImplementedError"]
    assert "Traceback" not in plain and not errors, f"an error is shown on the page: {errors[:3]}"
    assert "NotImplementedError()" in plain, "exercise prompts are missing"
    leaked = [line for line in _solution_lines(chapter) if line in plain]
    assert not leaked, f"solution or hidden-test code is visible: {leaked[:3]}"
    images = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+)"', text)
    assert images, "no figure rendered (executed outputs missing?)"
    for src in images:
        assert (page.parent / src).resolve().exists(), src
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    repo = url.removeprefix("https://github.com/")
    assert f"https://colab.research.google.com/github/{repo}/blob/main/chapters/{chapter.name}" in text, "no Colab launch link to the student notebook"


def test_no_page_shows_a_traceback(built):
    for page in built.rglob("*.html"):
        assert "Traceback (most recent call last)" not in page.read_text(), page
