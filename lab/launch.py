"""JupyterLab as a student gets it (`make lab`).

    python lab/launch.py [FOLDER] [-- JUPYTER_LAB_OPTIONS...]

- Copies the student notebooks (chapters/*.ipynb) into FOLDER (default ``my-work/``, ignored by
  git) the first time, and never overwrites a notebook already there: your answers stay yours,
  and ``git pull`` never conflicts with them. Delete a copy to get the latest release of it.
- Opens JupyterLab on FOLDER with the student configuration in ``lab/student/``: nbgrader's
  instructor panes (Formgrader, Create Assignment, the course and assignment lists) and its
  server extensions are off (``make lab-instructor`` has them), and JupyterLab neither checks
  for updates, fetches news nor searches PyPI for extensions, so it runs offline.

Your own JupyterLab settings (theme, shortcuts) are read from ``~/.jupyter/lab`` as usual.
Tests start it the same way (tests/test_lab.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDENT_CONFIG = Path(__file__).resolve().parent / "student"
CHAPTERS = ROOT / "chapters"


def prepare(folder: Path) -> list[Path]:
    """Copy each student notebook missing from ``folder`` into it; returns the copies made."""
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for notebook in sorted(CHAPTERS.glob("*.ipynb")):
        target = folder / notebook.name
        if not target.exists():
            shutil.copyfile(notebook, target)
            copied.append(target)
    return copied


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment JupyterLab runs in: the student configuration, the user's own settings."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_CONFIG_DIR"] = str(STUDENT_CONFIG)
    home = Path(env.get("HOME", str(Path.home())))
    # Without these, JupyterLab would keep settings and workspaces under JUPYTER_CONFIG_DIR.
    env.setdefault("JUPYTERLAB_SETTINGS_DIR", str(home / ".jupyter" / "lab" / "user-settings"))
    env.setdefault("JUPYTERLAB_WORKSPACES_DIR", str(home / ".jupyter" / "lab" / "workspaces"))
    return env


def command(folder: Path, options: list[str]) -> list[str]:
    # As root (a container, CI) Jupyter refuses to start without --allow-root.
    root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}", *root, *options]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ours, _, options = (
        (argv[: argv.index("--")], None, argv[argv.index("--") + 1 :]) if "--" in argv else (argv, None, [])
    )
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=ROOT / "my-work",
        help="where your copies of the notebooks live (default: my-work/)",
    )
    args = parser.parse_args(ours)
    folder = args.folder.resolve()
    for path in prepare(folder):
        print(f"copied {path.name} into {folder}")
    os.execve(sys.executable, command(folder, options), environment())


if __name__ == "__main__":
    main()
