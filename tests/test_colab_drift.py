"""Colab brings its own transformers: prove the oldest release pyproject.toml allows works.

pyproject.toml keeps loose ranges so that Colab keeps its preinstalled packages. This test
installs the *floor* of the ranges of the Hugging Face packages the course imports
(transformers, peft) into an overlay folder with `pip install --target`, adds whatever of their
own requirements the pinned environment does not satisfy (tokenizers, huggingface-hub, ...:
the newest release that does), and runs every chapter's solution notebook with that overlay
first on the path, beside the pinned torch (the notebooks side by side, one per core). A failure
here means: raise the floor in
pyproject.toml (and say why in its comment), or make the code work with the older release.

The overlay is built once per machine under .venv/ (git-ignored); it needs the package index.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from side_by_side import side_by_side

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
FLOORED = ("transformers", "peft")  # the Hugging Face libraries the chapters' code calls


def floors() -> dict[str, str]:
    """{package: oldest allowed version} read from pyproject.toml's dependencies."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found = {}
    for dep in deps:
        req = Requirement(dep)
        if req.name in FLOORED:
            lows = [s.version for s in req.specifier if s.operator == ">="]
            assert lows, f"pyproject.toml: {dep} has no floor (>=)"
            found[req.name] = lows[0]
    assert set(found) == set(FLOORED), f"pyproject.toml lacks {set(FLOORED) - set(found)}"
    return found


def pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        check=True,
        timeout=900,
    )


def overlay_for(pins: dict[str, str]) -> Path:
    """A folder holding the pinned releases plus the requirements of theirs that the running
    environment does not satisfy; built once, reused while the pins are the same."""
    name = "drift-" + "-".join(f"{k}{v}" for k, v in sorted(pins.items()))
    folder = ROOT / ".venv" / name
    done = folder / ".complete"
    if done.is_file():
        return folder
    pip("--no-deps", "--target", str(folder), *(f"{k}=={v}" for k, v in pins.items()))
    # Their own requirements (no extras), checked against this environment's versions.
    missing = []
    for package in pins:
        info = next((folder).glob(f"{package}-*.dist-info"))
        for line in (info / "METADATA").read_text().splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            req = Requirement(line.split(":", 1)[1].strip())
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            if req.name in pins:
                continue
            try:
                installed = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                installed = None
            if installed is None or not req.specifier.contains(installed, prereleases=True):
                missing.append(f"{req.name}{req.specifier}")
    if missing:
        pip("--no-deps", "--target", str(folder), *missing)
    done.write_text("\n".join(missing) + "\n")
    return folder


@pytest.fixture(scope="module")
def overlay() -> Path:
    try:
        return overlay_for(floors())
    except subprocess.CalledProcessError as error:  # no package index: say so, do not pass silently
        pytest.fail(f"could not install the oldest allowed releases: {error}", pytrace=False)


def test_overlay_shadows_the_pinned_release(overlay):
    code = "import transformers, peft; print(transformers.__version__, peft.__version__)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(overlay)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    pins = floors()
    assert [Version(v) for v in out] == [Version(pins["transformers"]), Version(pins["peft"])]


@pytest.fixture(scope="module")
def runs(overlay):
    """Every solution notebook started at once (one per core at a time) with the overlay first."""
    env = {"PYTHONPATH": str(overlay), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    commands = {
        nb: [sys.executable, str(ROOT / "bench" / "run_notebook.py"), "--solutions", str(nb)] for nb in SOLUTIONS
    }
    with side_by_side(commands, env=env) as futures:
        yield futures


@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_notebook_runs_with_the_oldest_allowed_releases(runs, notebook):
    run = runs[notebook].result()
    assert run.returncode == 0, f"{notebook.name} fails with {floors()}:\n" + re.sub(
        r"\n\s*\n", "\n", run.stdout[-6000:] + run.stderr[-2000:]
    )
