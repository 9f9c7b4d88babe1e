"""Seeded figures: two runs of a chapter draw the same pictures, except measured time.

Each run executes the chapter's cells as a script (bench/run_notebook.py) and hashes every
figure's PNG. Chapters 02 and 05 (which samples text) are cheap to run twice; the other
chapters' figure cells are held to the same rule by tests/test_notebooks.py (descriptions, and
timing figures that say where they were measured), and the book build draws each once.
"""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
TWICE = ["02_transformer_anatomy", "05_controlling_outputs"]  # cheap to run twice; 05 samples


def figure_hashes(notebook: Path, out: Path) -> dict[str, list[str]]:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_notebook.py"), "--figures", str(out), str(notebook)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return json.loads(out.read_text())[notebook.name]


@pytest.mark.parametrize("chapter", TWICE)
def test_two_runs_draw_the_same_figures(chapter, tmp_path):
    notebook = ROOT / "chapters" / f"{chapter}.ipynb"  # the edition the book executes
    first, second = figure_hashes(notebook, tmp_path / "a.json"), figure_hashes(notebook, tmp_path / "b.json")
    cells = nbformat.read(notebook, as_version=4).cells
    measured = {
        str(i)
        for i, c in enumerate(cells)
        if "measured on the machine" in c.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
    }
    assert first and first.keys() == second.keys()
    differ = [cell for cell in first if cell not in measured and first[cell] != second[cell]]
    assert not differ, f"{chapter}: cells {differ} drew different figures in two runs: seed them"
