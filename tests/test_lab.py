"""The student path in a real JupyterLab, driven by headless Chromium (Playwright).

JupyterLab starts as `make lab` starts it (lab/launch.py: the student configuration, a copy of
the notebooks) on a scratch folder; the test opens chapter 02 as a student would, checks that
its Markdown renders (no raw MyST roles or directives, a tip, a non-empty reference list), runs
the set-up cells, answers the attention exercise wrongly and then rightly (pasting the code
into the cell and pressing Shift+Enter), and reads what the test cell and check_submission()
print. Screenshots go to $LLMCOURSE_SCREENSHOTS (default _build/screenshots/), lab-*.png.

Like the book's browser tests (conftest.py's `browser`) it skips without Chromium or Playwright,
except under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

from test_browser import SCREENSHOTS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))
import launch  # noqa: E402

CHAPTER = "02_transformer_anatomy.ipynb"
WRONG = """def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1)  # forgot to divide by sqrt(d)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights
"""
RIGHT = WRONG.replace(
    "q @ k.transpose(-2, -1)  # forgot to divide by sqrt(d)", "q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])"
)
# What only MyST renders: a role, a directive's fence or its options, a bibliography.
RAW_MYST = re.compile(r"\{cite(:\w+)?\}|\{bibliography\}|\{admonition\}|```\{|:class:|:filter:")


def _cells() -> list:
    return nbformat.read(ROOT / "chapters" / CHAPTER, as_version=4).cells


def _index(predicate) -> int:
    return next(i for i, c in enumerate(_cells()) if predicate(c))


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab as `make lab` starts it, on a scratch copy of the notebooks; yields its address
    and token, and stops it (with its kernels) afterwards."""
    scratch = tmp_path_factory.mktemp("lab")
    folder, runtime, settings = scratch / "my-work", scratch / "runtime", scratch / "settings"
    # The notebook shows every cell (no windowing), so the test can read each one; nothing else
    # differs from a student's JupyterLab.
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    env = launch.environment(
        {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces"),
            "IPYTHONDIR": str(scratch / "ipython"),
        }
    )
    token = secrets.token_hex(16)
    options = ["--no-browser", "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", f"--IdentityProvider.token={token}"]
    log = (scratch / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "lab" / "launch.py"), str(folder), "--", *options],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(runtime.glob("jpserver-*.json")):
            assert server.poll() is None, f"JupyterLab exited: {(scratch / 'jupyterlab.log').read_text()[-3000:]}"
            assert time.monotonic() < deadline, "JupyterLab did not start within 120 s"
            time.sleep(0.3)
        info = json.loads(next(runtime.glob("jpserver-*.json")).read_text())
        yield {"url": info["url"], "token": token, "folder": folder, "log": scratch / "jupyterlab.log"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def test_make_lab_is_the_students_jupyterlab(jupyterlab):
    """No instructor panes or server extensions; every notebook copied for the student."""
    from urllib.error import HTTPError
    from urllib.request import urlopen

    assert sorted(p.name for p in jupyterlab["folder"].glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "chapters").glob("*.ipynb")
    )
    with pytest.raises(HTTPError) as missing:
        urlopen(f"{jupyterlab['url']}formgrader?token={jupyterlab['token']}")
    assert missing.value.code == 404, "nbgrader's formgrader is served in the student JupyterLab"
    page = urlopen(f"{jupyterlab['url']}lab?token={jupyterlab['token']}").read().decode()
    disabled = json.loads(
        re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    )["disabledExtensions"]
    assert "@jupyter/nbgrader" in disabled, f"nbgrader's lab extension is on: disabled {disabled}"


def test_prepare_never_overwrites_a_students_work(tmp_path):
    first = launch.prepare(tmp_path)
    assert len(first) == len(list((ROOT / "chapters").glob("*.ipynb")))
    (tmp_path / CHAPTER).write_text("my answers")
    (tmp_path / "01_history.ipynb").unlink()
    assert [p.name for p in launch.prepare(tmp_path)] == ["01_history.ipynb"]
    assert (tmp_path / CHAPTER).read_text() == "my answers"


class Lab:
    """A JupyterLab tab with one notebook open; records requests that leave the machine."""

    def __init__(self, browser, jupyterlab):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="block")
        self.outside: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{jupyterlab['url']}lab/tree/{CHAPTER}?token={jupyterlab['token']}")
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
        self.page.wait_for_selector(
            ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000
        )
        markdown = sum(c.cell_type == "markdown" for c in _cells())
        try:  # every Markdown cell rendered (JupyterLab renders them after the notebook shows)
            self.page.wait_for_function(
                "n => Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-MarkdownOutput'))"
                ".filter(e => e.textContent.trim()).length >= n",
                arg=markdown,
                timeout=60_000,
            )
        except Exception:
            self.shot("not-rendered")
            raise

    def _route(self, route):
        if urlparse(route.request.url).hostname not in ("127.0.0.1", "localhost"):
            self.outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def cell(self, index: int):
        return self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").nth(index)

    def run(self, index: int, source: str | None = None, timeout: float = 120) -> str:
        """Click into cell ``index``, paste ``source`` over its code (if given), press
        Shift+Enter and wait for it to finish; returns the text of its output."""
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        if source is not None:
            cell.locator(".cm-content").click()
            self.page.keyboard.press("Control+A")
            self.page.keyboard.insert_text(source)
        else:
            cell.locator(".jp-InputArea-prompt").click()
        before = cell.locator(".jp-InputArea-prompt").inner_text()
        self.page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + timeout
        while True:
            prompt = cell.locator(".jp-InputArea-prompt").inner_text()
            if re.fullmatch(r"\[\d+\]:", prompt.strip()) and prompt != before:
                break
            assert time.monotonic() < deadline, f"cell {index} still running after {timeout} s (prompt {prompt!r})"
            time.sleep(0.2)
        cell.scroll_into_view_if_needed()
        return cell.locator(".jp-OutputArea").inner_text() if cell.locator(".jp-OutputArea").count() else ""

    def shot(self, name: str, target=None) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if target is not None:
            target.scroll_into_view_if_needed()
        self.page.screenshot(path=str(SCREENSHOTS / f"lab-{name}.png"))


def test_student_path_in_jupyterlab(browser, jupyterlab):
    started = time.monotonic()
    lab = Lab(browser, jupyterlab)
    page = lab.page

    # The Markdown as the student reads it: rendered, with no MyST left raw.
    rendered = page.locator(".jp-NotebookPanel .jp-MarkdownOutput")
    prose = "\n".join(rendered.all_text_contents())
    assert len(prose) > 5000, "the notebook's Markdown did not render"
    raw = sorted(set(m.group(0) for m in RAW_MYST.finditer(prose)))
    assert not raw, f"raw MyST shows in JupyterLab: {raw}"
    tip = page.locator(".jp-MarkdownOutput blockquote strong").first
    assert tip.inner_text().startswith("Tip:"), "the opening tip is not a formatted block quote"
    citation = page.locator(".jp-MarkdownOutput a[href='https://arxiv.org/abs/1706.03762']").first
    assert "Vaswani et al." in citation.inner_text(), "the first citation is not an author-year link to the paper"
    references = page.locator(".jp-MarkdownOutput:has(h2:text-is('References')) li")
    assert references.count() >= 10, f"the References list has {references.count()} entries"
    assert all(item.locator("a").count() for item in references.all()), "a reference without its link"
    lab.shot("opening")
    lab.shot("references", references.last)

    # Set-up cells, then the attention exercise: wrong, then right.
    setup = [i for i, c in enumerate(_cells()) if "setup" in c.metadata.get("tags", [])]
    for index in setup:
        output = lab.run(index)
        assert "Error" not in output, f"set-up cell {index} failed: {output[-2000:]}"
    answer = _index(lambda c: c.metadata.get("nbgrader", {}).get("grade_id") == "attention")
    test = _index(lambda c: c.metadata.get("nbgrader", {}).get("grade_id") == "attention_tests")
    assert lab.run(answer, WRONG) == ""
    failing = lab.run(test)
    assert "Likely mistake: your weights equal softmax(q k^T) without the 1/sqrt(d) scaling" in failing, failing[-3000:]
    assert re.search(r"expected .*\n.*got", failing), "the failing check does not say what it expected and what it got"
    assert "Traceback" not in failing and "contract.py" not in failing, "the failing check shows the grader's traceback"
    lab.shot("failing-check", lab.cell(test))

    assert lab.run(answer, RIGHT) == ""
    passing = lab.run(test)
    assert "scaled_dot_product_attention: visible checks passed" in passing and "Likely mistake" not in passing, (
        passing[-3000:]
    )
    lab.shot("passing-check", lab.cell(test))

    # Before you submit: the report says what is done and what is not.
    page.keyboard.press("Control+S")
    report_cell = _index(lambda c: c.cell_type == "code" and "check_submission()" in c.source)
    report = lab.run(report_cell)
    assert "Chapter 02: is this notebook ready to submit?" in report, report
    assert "✓ scaled_dot_product_attention: visible checks pass" in report, report
    assert re.search(r"✗ sinusoidal_positional_encoding: not defined", report), report
    lab.shot("check-submission", lab.cell(report_cell))

    assert not lab.outside, f"JupyterLab or the notebook asked for addresses off this machine: {lab.outside[:5]}"
    assert not lab.errors, f"script errors in JupyterLab: {lab.errors[:5]}"
    lab.context.close()
    print(f"student path in JupyterLab: {time.monotonic() - started:.0f} s")
