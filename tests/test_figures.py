"""Seeded figures: two runs of a chapter draw the same pictures, except measured time.

Each run executes the chapter's cells as a script (bench/run_notebook.py) and hashes every
figure's PNG; the four runs are queued when the session starts (tests/chapter_runs.py).
Chapters 02 and 05 (which samples text) are cheap to run twice; the other chapters' figure cells
are held to the same rule by tests/test_notebooks.py (descriptions, and timing figures that say
where they were measured), and the book build draws each once.
"""

import json
import sys
from pathlib import Path

import nbformat
import pytest

from chapter_runs import command, scratch_folder, submitted

ROOT = Path(__file__).resolve().parents[1]
TWICE = ["02_transformer_anatomy", "05_controlling_outputs"]  # cheap to run twice; 05 samples


def chapter_jobs(scratch: Path) -> dict:
    """Each chapter of TWICE run twice, its figures' hashes written to a file of ``scratch``."""
    script = str(ROOT / "bench" / "run_notebook.py")
    return {
        (chapter, run): command(
            [sys.executable, script, "--figures", str(hashes_file(scratch, chapter, run)), str(chapter_path(chapter))],
            timeout=900,
        )
        for chapter in TWICE
        for run in (1, 2)
    }


def chapter_path(chapter: str) -> Path:
    return ROOT / "chapters" / f"{chapter}.ipynb"


def hashes_file(scratch: Path, chapter: str, run: int) -> Path:
    return scratch / f"figures-{chapter}-{run}.json"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{(chapter, run): (its run, its hashes file)}"""
    scratch = scratch_folder(tmp_path_factory.getbasetemp())
    return {key: (run, hashes_file(scratch, *key)) for key, run in submitted(__name__, chapter_jobs(scratch)).items()}


def figure_hashes(runs, chapter: str, run: int) -> dict[str, list[str]]:
    queued, file = runs[chapter, run]
    done = queued.result()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return json.loads(file.read_text())[f"{chapter}.ipynb"]


@pytest.mark.parametrize("chapter", TWICE)
def test_two_runs_draw_the_same_figures(runs, chapter):
    notebook = ROOT / "chapters" / f"{chapter}.ipynb"  # the edition the book executes
    first, second = figure_hashes(runs, chapter, 1), figure_hashes(runs, chapter, 2)
    cells = nbformat.read(notebook, as_version=4).cells
    measured = {
        str(i)
        for i, c in enumerate(cells)
        if "measured on the machine" in c.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
    }
    assert first and first.keys() == second.keys()
    differ = [cell for cell in first if cell not in measured and first[cell] != second[cell]]
    assert not differ, f"{chapter}: cells {differ} drew different figures in two runs: seed them"
