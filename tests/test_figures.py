"""Seeded figures: two runs of a chapter draw the same pictures, except measured time.

Each run executes the chapter's cells as a script (bench/run_notebook.py) and hashes every
figure's PNG; the four runs go side by side, one per core. Chapters 02 and 05 (which samples
text) are cheap to run twice; the other chapters' figure cells are held to the same rule by
tests/test_notebooks.py (descriptions, and timing figures that say where they were measured),
and the book build draws each once.
"""

import json
import sys
from pathlib import Path

import nbformat
import pytest

from side_by_side import side_by_side

ROOT = Path(__file__).resolve().parents[1]
TWICE = ["02_transformer_anatomy", "05_controlling_outputs"]  # cheap to run twice; 05 samples


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each chapter of TWICE run twice, all four started at once; {(chapter, run): (process, hashes file)}."""
    out = tmp_path_factory.mktemp("figures")
    script = str(ROOT / "bench" / "run_notebook.py")
    files = {(chapter, run): out / f"{chapter}-{run}.json" for chapter in TWICE for run in (1, 2)}
    commands = {
        key: [sys.executable, script, "--figures", str(file), str(ROOT / "chapters" / f"{key[0]}.ipynb")]
        for key, file in files.items()
    }
    with side_by_side(commands, timeout=900) as futures:
        yield {key: (futures[key], files[key]) for key in files}


def figure_hashes(runs, chapter: str, run: int) -> dict[str, list[str]]:
    future, file = runs[chapter, run]
    done = future.result()
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
