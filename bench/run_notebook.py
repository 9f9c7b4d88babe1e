"""Run a chapter notebook's code cells as a plain script and time them, without Jupyter.

    python bench/run_notebook.py [--solutions] solutions/02_transformer_anatomy.ipynb [more.ipynb ...]

For machines with PyTorch but no Jupyter (a lent GPU machine, say): IPython magics such as
``%matplotlib inline`` are skipped, figures go to the Agg backend, the cells share one
namespace and run in the notebook's folder. Prints each notebook's time and its slowest cells;
exits non-zero when a cell raises (cells tagged ``raises-exception`` may raise, except, with
``--solutions``, the exercise and test cells: in a solution notebook those must pass).
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path


def may_raise(cell: dict, solutions: bool) -> bool:
    """Cells tagged ``raises-exception`` may raise, but graded cells of a solution notebook may not."""
    metadata = cell.get("metadata", {})
    grading = metadata.get("nbgrader", {})
    if solutions and (grading.get("solution") or grading.get("grade")):
        return False
    return "raises-exception" in metadata.get("tags", [])


def run(path: Path, solutions: bool = False) -> tuple[float, list[tuple[float, int, str]], list[str]]:
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
            timings.append((time.perf_counter() - began, index, code.strip().splitlines()[0] if code.strip() else ""))
        return time.perf_counter() - start, timings, errors
    finally:
        os.chdir(here)


def main() -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    failed = 0
    names = [a for a in sys.argv[1:] if a != "--solutions"]
    for name in names:
        seconds, timings, errors = run(Path(name).resolve(), solutions="--solutions" in sys.argv[1:])
        print(f"{name}: {seconds:.1f} s, {len(errors)} failing cell(s)")
        for t, index, first in sorted(timings, reverse=True)[:3]:
            print(f"    {t:6.1f} s  cell {index}: {first[:70]}")
        for error in errors:
            print("   ", error.replace("\n", "\n    "))
        failed += bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
