"""The built book in a real browser: headless Chromium (Debian's package) driven by Playwright.

The book is built once per session (conftest.py's `book_html`, shared with test_book.py) and
served from a local HTTP server; any request that leaves it is blocked and counted as a fault.
Screenshots of every chapter page go to $LLMCOURSE_SCREENSHOTS (default _build/screenshots/).

Without Chromium or Playwright these tests skip with a loud message, except under CI=true,
where they fail. Playwright never downloads a browser here (no `playwright install`).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import quote, urlparse

import nbformat
import pytest

from test_book import CONFIG, REPOSITORY, ROOT, _solution_lines, toc_files

SCREENSHOTS = Path(os.environ.get("LLMCOURSE_SCREENSHOTS", ROOT / "_build" / "screenshots"))
BRANCH = CONFIG["repository"].get("branch", "main")


TOC = toc_files()
CHAPTERS = [ROOT / f"{f}.ipynb" for f in TOC if f.startswith("chapters/")]


def _markdown(chapter: Path) -> str:
    nb = nbformat.read(chapter, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _has_math(chapter: Path) -> bool:
    text = re.sub(r"`[^`]*`", "", _markdown(chapter))
    return bool(re.search(r"\$[^$\n]+\$|\$\$|\\begin\{", text))


def _search_term(chapter: Path) -> str:
    """A word of this chapter's prose that no other chapter's prose uses (its most frequent)."""

    def words(path):
        text = re.sub(r"```.*?```|`[^`]*`|\$[^$]*\$|\(http[^)]*\)", " ", _markdown(path), flags=re.S)
        return re.findall(r"\b[a-z]{8,}\b", text.lower())

    others = {w for other in CHAPTERS if other != chapter for w in words(other)}
    mine = [w for w in words(chapter) if w not in others]
    assert mine, f"{chapter.name}: no word of its own to search for"
    return max(sorted(set(mine)), key=mine.count)


# --- the server (the browser, `browser`, is conftest.py's) ------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a browser that moves on mid-download (BrokenPipe) is not a fault of the book


@pytest.fixture(scope="module")
def site(book_html):
    """The built book over HTTP on 127.0.0.1 (a thread of this process)."""
    server = _Server(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(book_html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


class Visit:
    """A browser tab that records everything that went wrong while pages loaded."""

    def __init__(self, browser, site):
        self.site = site
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
        self.problems: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on(
            "console",
            lambda m: (
                m.type == "error" and self.problems.append(f"console error: {m.text} ({m.location.get('url', '')})")
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def _failed(self, request):
        # ERR_ABORTED: the browser itself cancelled it (index.html's redirect leaving the page);
        # a missing file is a 404 and a request leaving the book is blocked in _route, both counted.
        if "ERR_ABORTED" not in (request.failure or ""):
            self.problems.append(f"failed request: {request.url} ({request.failure})")

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.site) or url.startswith("data:"):
            route.continue_()
        else:
            self.problems.append(f"request outside the book: {url}")
            route.abort()

    def open(self, path: str):
        self.page.goto(self.site + path, wait_until="load")
        self.settle()
        return self.page

    def settle(self):
        """Wait for MathJax to typeset (and fetch its fonts) and the network to go quiet."""
        from playwright.sync_api import Error

        for _ in range(5):  # a redirect (index.html) replaces the page under our feet: retry
            try:
                self.page.wait_for_load_state("load")
                state = self.page.evaluate("""async () => {
                    if (!window.MathJax) return "no MathJax";
                    if (!window.MathJax.startup) return "MathJax did not load";
                    await window.MathJax.startup.promise;
                    return "typeset";
                }""")
                break
            except Error as error:
                if "context was destroyed" not in str(error):
                    raise
        self.page.wait_for_load_state("networkidle")
        return state

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, site):
    tab = Visit(browser, site)
    yield tab
    tab.close()


def _where(page) -> str:
    return urlparse(page.url).path.lstrip("/")


# --- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page_in_the_browser(visit, book_html, chapter):
    page = visit.open(f"chapters/{chapter.stem}.html")
    mathjax = visit.settle()  # Sphinx loads MathJax on the pages that have math
    assert mathjax == "typeset" or (mathjax == "no MathJax" and not _has_math(chapter)), f"MathJax: {mathjax}"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{chapter.stem}.png"), full_page=True)

    # every figure decoded and non-empty
    images = page.evaluate("""async () => Promise.all([...document.images].map(async img => {
        img.loading = "eager";
        try { await img.decode(); } catch (e) {}
        return {src: img.getAttribute("src"), width: img.naturalWidth, height: img.naturalHeight};
    }))""")
    assert images, "no figure on the page"
    broken = [i["src"] for i in images if not (i["width"] > 0 and i["height"] > 0)]
    assert not broken, f"figures not decoded: {broken}"

    # math rendered by MathJax, no raw TeX delimiters left in the prose
    math = page.evaluate("""() => {
        const article = document.querySelector("article");
        const elements = [...article.querySelectorAll(".math")];
        const clone = article.cloneNode(true);
        clone.querySelectorAll("pre, code, script, style, textarea, mjx-container").forEach(e => e.remove());
        return {elements: elements.length,
                rendered: elements.filter(e => e.querySelector("mjx-container")).length,
                containers: article.querySelectorAll("mjx-container").length,
                text: clone.textContent};
    }""")
    if _has_math(chapter):
        assert math["containers"] > 0, "the chapter has math but MathJax rendered none"
    assert math["rendered"] == math["elements"], f"{math['elements'] - math['rendered']} formulas not rendered"
    raw = [d for d in ("\\[", "\\(", "$$") if d in math["text"]]
    assert not raw, f"raw TeX left in the page: {raw}"

    # exercise prompts visible; no error output, no solution or hidden-test line
    article = page.inner_text("article")
    assert "raise NotImplementedError()" in article, "exercise prompts are not shown"
    assert "Traceback" not in article, "a traceback is shown"
    outputs = "\n".join(page.locator(".cell_output").all_inner_texts())
    assert "NotImplementedError" not in outputs, "an exercise stub's error is shown"
    assert page.locator(".cell_output .output.traceback").count() == 0, "an error output is shown"
    stderr = "\n".join(page.locator(".cell_output .output.stderr").all_inner_texts())
    errors = sorted(set(re.findall(r"\b\w+Error\b", stderr)))
    assert not errors, f"error shown on stderr: {errors}"
    everything = page.evaluate("() => document.documentElement.textContent")
    leaked = [line for line in _solution_lines(chapter) if line in everything]
    assert not leaked, f"solution or hidden-test code in the page: {leaked[:3]}"

    # "Open in Colab" in the launch menu opens the student notebook
    repo = REPOSITORY.removeprefix("https://github.com/")
    expected = f"https://colab.research.google.com/github/{repo}/blob/{BRANCH}/chapters/{chapter.name}"
    links = page.eval_on_selector_all('a[href*="colab.research.google.com"]', "els => els.map(e => e.href)")
    assert links and set(links) == {expected}, f"Colab links {links}, expected {expected}"
    page.locator(".dropdown-launch-buttons button").first.click()
    assert page.locator(f'a[href="{expected}"]').first.is_visible(), "the Colab launch button does not show"

    assert not visit.problems, "\n".join(visit.problems)


def test_other_pages_load_cleanly(visit, book_html):
    pages = sorted(
        p.relative_to(book_html).as_posix()
        for p in book_html.rglob("*.html")
        if not {"_sources", "_static", "mathjax", "chapters"} & set(p.relative_to(book_html).parts)
    )
    assert "intro.html" in pages and "search.html" in pages
    for path in pages:
        visit.open(path)
    assert not visit.problems, "\n".join(visit.problems)


def test_performance_page(visit):
    """The `make bench` report: its figure of time against length decodes, its table shows."""
    page = visit.open("performance.html")
    sizes = page.evaluate("""async () => Promise.all([...document.images].map(async img => {
        try { await img.decode(); } catch (e) {}
        return [img.naturalWidth, img.naturalHeight, img.alt];
    }))""")
    assert sizes and all(w > 0 and h > 0 and len(alt) > 40 for w, h, alt in sizes), sizes
    table = page.inner_text("article table")
    for peer in ("Hugging Face generate", "nbgrader autograde", "F.scaled_dot_product_attention"):
        assert peer in table, peer
    assert "cores" in page.inner_text("article")
    assert not visit.problems, "\n".join(visit.problems)


def test_citations_lead_to_the_reference_list(visit):
    page = visit.open("chapters/02_transformer_anatomy.html")
    link = page.locator('a.reference.internal[href^="#id"]').first
    target = link.get_attribute("href")
    link.click()
    entry = page.locator(f'[id="{target[1:]}"]')
    assert entry.count() == 1 and "Attention" in page.locator("div.citation").all_inner_texts().__str__()
    assert entry.is_visible(), "the citation's reference entry is not on screen after the click"
    assert not visit.problems, "\n".join(visit.problems)


def test_landing_page(visit):
    page = visit.open("index.html")
    page.wait_for_url("**/intro.html")
    headings = page.locator("article").get_by_text("Chapters", exact=True)
    assert headings.count() == 1, f"the heading 'Chapters' shows {headings.count()} times"
    favicon = page.evaluate("""async () => {
        const link = document.querySelector('link[rel="icon"]');
        return link ? (await fetch(link.href)).status : 0;
    }""")
    assert favicon == 200, "no favicon"
    footer = page.inner_text(".extra_footer")
    assert "MIT" in footer and "CC BY 4.0" in footer, footer
    assert not visit.problems, "\n".join(visit.problems)


def test_next_buttons_walk_every_chapter_in_order(visit):
    page = visit.open("index.html")
    page.wait_for_url("**/intro.html")
    seen = [_where(page)]
    while page.locator("a.right-next").count():
        page.locator("a.right-next").first.click()
        page.wait_for_load_state("load")
        seen.append(_where(page))
        assert len(seen) <= len(TOC) + 1, f"the next buttons go round: {seen}"
    assert seen == ["intro.html"] + [f"{f}.html" for f in TOC], seen
    assert not visit.problems, "\n".join(visit.problems)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_search_finds_the_chapter(visit, chapter):
    term = _search_term(chapter)
    page = visit.open(f"search.html?q={quote(term)}")
    page.wait_for_function(
        """() => {
        const summary = document.querySelector("#search-results .search-summary, #search-results p");
        return summary && /found|did not match/i.test(summary.textContent);
    }""",
        timeout=30_000,
    )
    hits = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))")
    assert any(h.split("?")[0].split("#")[0].endswith(f"chapters/{chapter.stem}.html") for h in hits), (
        f"searching {term!r} did not find {chapter.stem}: {hits}"
    )
    assert not visit.problems, "\n".join(visit.problems)
