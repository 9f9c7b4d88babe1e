"""Shared test set-up: nothing may reach the Hugging Face Hub; the book is built once."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
# Set to a built book's HTML folder (e.g. _build/html after `make book`) to test that build
# instead of building one: quicker while working on the book, never used by `make test`.
BOOK_HTML_ENV = "LLMCOURSE_BOOK_HTML"
# Debian's Chromium, driven by Playwright (test_browser.py: the book; test_lab.py: JupyterLab).
CHROMIUM = os.environ.get("LLMCOURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_missing() -> str | None:
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install -r requirements.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; `make test` installs it when root)"
    return None


@pytest.fixture(scope="module")
def browser(request):
    """Headless Chromium; without it (or Playwright) the test skips loudly, except under
    CI=true, where it fails. Playwright never downloads a browser here."""
    missing = _browser_missing()
    if missing:
        message = f"browser tests not run: {missing}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: a browser is required)", pytrace=False)
        request.config._llmcourse_browser_missing = message
        pytest.skip("!!! " + message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _build_book(out: Path) -> dict:
    """Build the book as `make book` does, into `out`; returns {"html": path} or {"error": text}."""
    started = time.monotonic()
    mathjax = subprocess.run(
        [sys.executable, str(ROOT / "book" / "install_mathjax.py")], capture_output=True, text=True
    )
    if mathjax.returncode != 0:
        return {"error": f"installing MathJax failed:\n{mathjax.stdout[-2000:]}\n{mathjax.stderr[-2000:]}"}
    from side_by_side import at_once

    run = subprocess.run(
        [sys.executable, str(ROOT / "book" / "build.py"), "-W", "--keep-going", "--all", "--path-output", str(out)]
        + [str(ROOT)],
        env={**os.environ, "BOOK_JOBS": str(at_once())},  # its share of the cores under pytest-xdist
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        return {"error": f"book build failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"}
    return {"html": str(out / "_build" / "html"), "seconds": round(time.monotonic() - started, 1)}


@pytest.fixture(scope="session")
def book_html(tmp_path_factory) -> Path:
    """The student book's HTML, built once per test session (once in all, under pytest-xdist)."""
    if os.environ.get(BOOK_HTML_ENV):
        html = Path(os.environ[BOOK_HTML_ENV]).resolve()
        assert (html / "index.html").is_file(), f"{BOOK_HTML_ENV}={html}: no built book there"
        return html
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        result = _build_book(tmp_path_factory.mktemp("book"))
    else:  # the first worker to get here builds; the others wait for it and read its result
        from filelock import FileLock

        shared = tmp_path_factory.getbasetemp().parent
        record = shared / "book.json"
        with FileLock(str(shared / "book.lock")):
            if record.is_file():
                result = json.loads(record.read_text())
            else:
                result = _build_book(shared / "book")
                record.write_text(json.dumps(result))
    if "error" in result:
        pytest.fail(result["error"], pytrace=False)
    return Path(result["html"])


# What each test needs, as markers (registered in pyproject.toml): `make test-fast` leaves these
# out, `make test` runs everything. By file, by test name, or by the fixtures a test uses.
MARKERS_BY_FILE = {
    "test_book.py": ["book"],  # builds the book (and the instructor edition)
    "test_browser.py": ["book", "browser"],
    "test_lab.py": ["browser", "notebooks"],  # a chapter run in JupyterLab in Chromium
    "test_gradebook_postgres.py": ["postgres"],
    "test_colab_drift.py": ["notebooks", "slow"],  # every solution notebook on the oldest releases
    "test_figures.py": ["notebooks"],  # chapters run twice
    # whole classes graded end to end through the sandbox (course.grade), or trained
    "test_autograde.py": ["slow"],  # with the mutation suite (course.mutants)
    "test_hostile.py": ["slow"],
    "test_isolation.py": ["slow"],
    "test_instructor.py": ["slow"],
    "test_instructor_exports.py": ["slow"],
    "test_instructor_term.py": ["slow"],
    "test_distributed_grading.py": ["slow"],
    "test_releases.py": ["slow"],
    "test_train.py": ["slow"],
}
MARKERS_BY_TEST = {
    # the mutation suite, in process: every alternative and catalogued mistake of every exercise
    ("test_grading_contract.py", "test_valid_alternatives_pass_and_mistakes_fail_in_process"): ["slow"],
    ("test_grading_contract.py", "test_every_catalogued_mistake_is_named_by_the_visible_checks"): ["slow"],
    ("test_grading_contract.py", "test_the_hidden_cases_charge_a_mistake_only_to_requirements_it_visibly_breaks"): [
        "slow"
    ],
    ("test_notebooks.py", "test_student_editions_are_up_to_date"): ["slow"],  # a release of every chapter
    ("test_bench.py", "test_quick_report_writes_the_page"): ["slow"],  # every benchmark, briefly
    ("test_runners.py", "test_runners_import_no_checks_module_and_no_oracle"): ["slow"],
    ("test_similarity.py", "test_class_report_lists_the_copied_pair_side_by_side"): ["slow"],  # course.grade
}
MARKERS_BY_FIXTURE = {"book_html": ["book"], "browser": ["browser"]}

# `make test TEST_WORKERS=N` runs the suite on N pytest-xdist workers (`--dist loadfile`: a module's
# fixtures, a server or a graded class, are set up once). The files that take minutes go first, longest
# first (measured with --durations), so that no worker is left with a long file at the end while
# the other idles; the book's browser tests go last, when the book that test_book.py's worker
# built is there to read (a worker that asked for it earlier would wait for the build).
# (Not --dist loadgroup: pytest-xdist 3.8 marks a group by rewriting item._nodeid, which
# pytest 9 no longer reads, so every test would be scheduled on its own.)
LONGEST_FIRST = [
    "test_book.py",  # builds the book: every chapter executed (about 4.5 minutes)
    "test_colab_drift.py",  # every solution notebook on the oldest allowed releases (about 4 minutes)
    "test_autograde.py",  # the mutation suite through the engine (about 3 minutes)
    "test_grading_contract.py",
    "test_bench.py",
    "test_figures.py",
    "test_distributed_grading.py",
    "test_hostile.py",
    "test_instructor.py",
    "test_gradebook_postgres.py",
    "test_isolation.py",
]
LAST = ["test_browser.py"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(MARKERS_BY_FILE.get(item.path.name, []))
        names.update(MARKERS_BY_TEST.get((item.path.name, item.originalname), []))
        for fixture in set(getattr(item, "fixturenames", ())) & MARKERS_BY_FIXTURE.keys():
            names.update(MARKERS_BY_FIXTURE[fixture])
        for name in sorted(names):
            item.add_marker(name)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)} | {name: len(LONGEST_FIRST) + 1 for name in LAST}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))  # stable: a file keeps its order


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say loudly when the browser tests could not run (tests/test_browser.py), whichever
    process (an xdist worker or this one) skipped them."""
    skipped = [str(r.longrepr[2]) for r in terminalreporter.stats.get("skipped", []) if isinstance(r.longrepr, tuple)]
    reason = getattr(config, "_llmcourse_browser_missing", None) or next(
        (text.split("!!! ", 1)[1] for text in skipped if "!!! browser tests not run" in text), None
    )
    if reason:
        terminalreporter.write_sep("!", "BROWSER TESTS SKIPPED", red=True, bold=True)
        terminalreporter.write_line(reason, red=True, bold=True)
        terminalreporter.write_line(
            "Install Chromium (Debian: apt-get install chromium; `make test` does it as root) "
            "and `pip install -r requirements.txt`; under CI=true this fails the run.",
            red=True,
        )
