"""Run a chapter notebook's code cells as a plain script and time them, without Jupyter.

    python bench/run_notebook.py [--solutions] [--figures OUT.json] solutions/02_transformer_anatomy.ipynb [...]

For machines with PyTorch but no Jupyter (a lent GPU machine, say): IPython magics such as
``%matplotlib inline`` are skipped, figures go to the Agg backend, the cells share one
namespace and run in the notebook's folder. Prints each notebook's time and its slowest cells;
exits non-zero when a cell raises (cells tagged ``raises-exception`` may raise, except, with
``--solutions``, the exercise and test cells: in a solution notebook those must pass).
As Jupyter's inline backend does, the figures a cell leaves open are closed after it;
``--figures`` writes the SHA-256 of each one's PNG, by notebook and cell, to a JSON file (two
runs of a seeded chapter must draw the same pictures).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import time
import traceback
from pathlib import Path


def close_figures() -> list[str]:
    """Close the open matplotlib figures; the SHA-256 of each one's PNG, in order."""
    if "matplotlib.pyplot" not in sys.modules:
        return []
    plt = sys.modules["matplotlib.pyplot"]
    hashes = []
    for number in plt.get_fignums():
        buffer = io.BytesIO()
        plt.figure(number).savefig(buffer, format="png", dpi=50, metadata={"Software": None})
        hashes.append(hashlib.sha256(buffer.getvalue()).hexdigest())
    plt.close("all")
    return hashes


def may_raise(cell: dict, solutions: bool) -> bool:
    """Cells tagged ``raises-exception`` may raise, but graded cells of a solution notebook may not."""
    metadata = cell.get("metadata", {})
    grading = metadata.get("nbgrader", {})
    if solutions and (grading.get("solution") or grading.get("grade")):
        return False
    return "raises-exception" in metadata.get("tags", [])


def run(
    path: Path, solutions: bool = False, figures: dict[int, list[str]] | None = None
) -> tuple[float, list[tuple[float, int, str]], list[str]]:
    """Run ``path``'s code cells; (seconds, [(seconds, cell, first line)], [errors]).
    ``figures``, when given, receives each cell's figure hashes by cell index."""
    cells = json.loads(path.read_text())["cells"]
    namespace: dict = {"__name__": "__main__"}
    timings, errors = [], []
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        start = time.perf_counter()
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
            began = time.perf_counter()
            try:
                exec(compile(code, f"{path.name}[{index}]", "exec"), namespace)  # noqa: S102 - the course's own notebook
            except Exception:  # noqa: BLE001 - reported below
                if not may_raise(cell, solutions):
                    errors.append(f"cell {index}: {traceback.format_exc(limit=3)}")
            drawn = close_figures()
            if figures is not None and drawn:
                figures[index] = drawn
            timings.append((time.perf_counter() - began, index, code.strip().splitlines()[0] if code.strip() else ""))
        return time.perf_counter() - start, timings, errors
    finally:
        os.chdir(here)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--solutions", action="store_true", help="exercise and test cells must not raise")
    parser.add_argument("--figures", type=Path, help="write the hashes of the figures drawn, by notebook and cell")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    failed, drawn = 0, {}
    for path in args.notebooks:
        figures: dict[int, list[str]] = {}
        seconds, timings, errors = run(path.resolve(), solutions=args.solutions, figures=figures)
        drawn[path.name] = figures
        print(f"{path}: {seconds:.1f} s, {len(errors)} failing cell(s)")
        for t, index, first in sorted(timings, reverse=True)[:3]:
            print(f"    {t:6.1f} s  cell {index}: {first[:70]}")
        for error in errors:
            print("   ", error.replace("\n", "\n    "))
        failed += bool(errors)
    if args.figures:
        args.figures.write_text(json.dumps(drawn, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
