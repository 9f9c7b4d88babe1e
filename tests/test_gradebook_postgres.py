"""The gradebook on a real PostgreSQL server, with two grading processes writing at once.

The server is started here (Debian's postgresql package; `make test` installs it when missing),
as the unprivileged `postgres` user since initdb refuses root. Without PostgreSQL the test skips
loudly; under CI (CI=true) it must run.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from llmcourse.grading import ch02

ROOT = Path(__file__).resolve().parents[1]
CH = "02_transformer_anatomy"
FULL = sum(e.points for e in ch02.EXERCISES.values())  # chapter 02's full marks


def _binary(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)


@pytest.fixture(scope="module")
def postgres():
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl) or os.geteuid() != 0 and not os.access(initdb, os.X_OK):
        message = "PostgreSQL is not installed (apt-get install postgresql): the PostgreSQL gradebook test is SKIPPED"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " but CI=true requires it")
        print("\n" + "!" * 20 + " " + message + " " + "!" * 20)
        pytest.skip(message)
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    # No TCP at all (listen_addresses=''): the server listens on a Unix socket in its own folder,
    # where the port only names the socket file, so no other server can be in the way.
    port = 5432
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"], check=True, capture_output=True
    )
    options = f"-k {sockets} -p {port} -c listen_addresses=''"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(base / "log"), "start"],
        check=True,
        capture_output=True,
    )
    try:
        psql = _binary("psql")
        subprocess.run(
            [*as_user, psql, "-h", str(sockets), "-p", str(port), "-U", "postgres", "-c", "CREATE DATABASE course"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://postgres@/course?host={sockets}&port={port}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_two_graders_write_one_postgresql_gradebook_at_once(postgres, tmp_path):
    solution = (ROOT / "solutions" / f"{CH}.ipynb").read_text()
    untouched = (ROOT / "chapters" / f"{CH}.ipynb").read_text()
    roots = []
    for grader in range(2):
        root = tmp_path / f"grader{grader}"
        for i in range(4):
            folder = root / "submitted" / f"g{grader}s{i}" / CH
            folder.mkdir(parents=True)
            (folder / f"{CH}.ipynb").write_text(solution if i % 2 == 0 else untouched)
        (root / "nbgrader_config.py").write_text((ROOT / "autograde" / "nbgrader_config.py").read_text())
        roots.append(root)
    code = (
        "import sys, pathlib; from llmcourse.grading import cli as course; "
        "course.grade(pathlib.Path(sys.argv[1]), db=sys.argv[2], progress=False, workers=1)"
    )
    graders = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(root), postgres], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for root in roots
    ]
    outputs = [g.communicate(timeout=600)[0].decode(errors="replace") for g in graders]
    assert all(g.returncode == 0 for g in graders), outputs
    from nbgrader.api import Gradebook

    with Gradebook(postgres) as gb:
        scores = {s.student.id: s.score for s in gb.assignment_submissions(CH)}
    assert scores == {f"g{g}s{i}": (FULL if i % 2 == 0 else 0) for g in range(2) for i in range(4)}, scores
