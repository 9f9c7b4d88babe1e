"""Sphinx extension of the course's book: pages that need nothing from a CDN.

Loaded through ``sphinx.local_extensions`` in ``_config.yml``. It

- renders progress bars (tqdm's ipywidgets, e.g. Hugging Face's "Loading weights") as the
  text of their *final* state, read from the notebook's saved widget state, instead of widget
  views that need require.js and the widget manager from CDNs (the text/plain that Jupyter
  saved with a widget is its state when first displayed: "0%");
- drops the widget-state script from the pages (nothing reads it any more);
- checks that MathJax has been installed into the book (``book/install_mathjax.py``) when
  ``mathjax_path`` is local, with a message that says how;
- writes index.html as a redirect to the landing page that names the favicon;
- fills ``{repository_url}`` in the footer from the repository set once in ``_config.yml``;
- reads the student editions with their Markdown's MyST originals (``make release`` writes
  CommonMark + math for JupyterLab and Colab and keeps the MyST in cell metadata, see
  ``student_markdown.py``), so the book keeps its citations and bibliography;
- for the instructor edition (``course_book_edition = "instructor"``), reads notebooks with
  the outputs of exercise and test cells kept (the student book removes them).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError

from student_markdown import with_myst

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BAR_WIDTH = 10


# --- progress widgets as text ---------------------------------------------------------------


def _plain(value: str) -> str:
    """A tqdm widget's HTML text as plain text (tqdm pads with figure spaces, escapes HTML)."""
    return html.unescape(re.sub(r"<[^>]+>", "", value or "")).replace("\u2007", " ").replace("\u200b", "")


def widget_text(model_id: str, state: dict) -> str | None:
    """The final text of a displayed widget, or None when it is not one we know how to write.

    tqdm's notebook bar is an HBox of (HTML: description and percentage, FloatProgress,
    HTML: counts and rates); it becomes "Loading weights: 100%|##########| 52/52 [...]".
    A lone HTML/Label/progress widget becomes its value.
    """

    def model(ref):
        key = ref.removeprefix("IPY_MODEL_") if isinstance(ref, str) else None
        entry = state.get(key)
        return entry if entry else None

    def text_of(entry) -> str | None:
        name = entry.get("model_name", "")
        s = entry.get("state", {})
        if name in ("HTMLModel", "LabelModel", "TextModel", "HTMLMathModel"):
            return _plain(str(s.get("value", "")))
        if name in ("FloatProgressModel", "IntProgressModel"):
            lo, hi, value = float(s.get("min", 0)), float(s.get("max", 0)), float(s.get("value", 0))
            frac = (value - lo) / (hi - lo) if hi > lo else (1.0 if value else 0.0)
            frac = min(max(frac, 0.0), 1.0)
            full = int(round(frac * BAR_WIDTH))
            return "|" + "\u2588" * full + " " * (BAR_WIDTH - full) + "|"
        if name in ("HBoxModel", "VBoxModel", "BoxModel"):
            parts = [text_of(child) for child in map(model, s.get("children", [])) if child]
            if any(p is None for p in parts):
                return None
            return ("" if name == "HBoxModel" else "\n").join(parts)
        return None

    entry = state.get(model_id)
    if not entry:
        return None
    text = text_of(entry)
    return text.rstrip() if text else None


def _widget_state(env, docname: str) -> dict:
    """The widget state myst-nb stored for this page (as the body of a script to add)."""
    js_files = getattr(env, "nb_metadata", {}).get(docname, {}).get("js_files", {})
    entry = js_files.get("ipywidgets_state")
    if not entry:
        return {}
    _, kwargs = entry
    try:
        return json.loads(kwargs.get("body", "{}")).get("state", {})
    except ValueError:
        return {}


def widgets_as_text(app: Sphinx, doctree: nodes.document) -> None:
    """Replace every widget view of this page's outputs with the text of its final state."""
    env = app.env
    state = _widget_state(env, env.docname)

    def is_bundle(node):
        return isinstance(node, nodes.container) and node.get("nb_element") == "mime_bundle"

    for bundle in list(doctree.findall(is_bundle)):
        views = [c for c in bundle.children if c.get("mime_type") == WIDGET_VIEW]
        if not views:
            continue
        match = re.search(r">(.*)</script>", views[0].astext(), re.S)
        try:
            model_id = json.loads(match.group(1).replace("<\\/", "</"))["model_id"] if match else None
        except (ValueError, KeyError):
            model_id = None
        text = widget_text(model_id, state) if model_id else None
        plains = [c for c in bundle.children if c.get("mime_type") == "text/plain"]
        if text is not None:
            if plains:
                for block in plains[0].findall(nodes.literal_block):
                    block.children = []
                    block += nodes.Text(text)
                    block.rawsource = text
                    break
            else:
                container = nodes.container(mime_type="text/plain")
                container += nodes.literal_block(text, text, classes=["output", "text_plain"], language="myst-ansi")
                bundle += container
        for view in views:
            bundle.remove(view)

    # Nothing reads the widget state now: leave it (and any widget manager) out of the page.
    js_files = getattr(env, "nb_metadata", {}).get(env.docname, {}).get("js_files", {})
    for key in [k for k in js_files if k == "ipywidgets_state" or k.startswith("ipywidgets_")]:
        del js_files[key]


# --- configuration checks and footer --------------------------------------------------------


def check_config(app: Sphinx, config) -> None:
    path = config.mathjax_path or ""
    if path and "://" not in path:
        extra = [Path(app.srcdir, p) for p in config.html_extra_path]
        name = path.split("/", 1)[1] if path.startswith("../") else path
        name = name.lstrip("./")
        if not any((root / name).is_file() for root in extra):
            raise ConfigError(
                f"MathJax is not installed in the book ({name} not found under "
                f"{', '.join(str(p) for p in config.html_extra_path) or 'html_extra_path'}): "
                "run `make mathjax` (or `python book/install_mathjax.py`), which fetches it "
                "from the npm registry once."
            )
    options = config.html_theme_options
    footer = options.get("extra_footer") or ""
    repository = (options.get("repository_url") or "").rstrip("/")
    branch = options.get("repository_branch") or "main"
    if "{repository_url}" in footer or "{branch}" in footer:
        options["extra_footer"] = footer.replace("{repository_url}", repository).replace("{branch}", branch)
    if config.course_book_edition == "instructor":
        note = "Instructor edition: solutions and hidden tests are shown. Do not publish it to students."
        options["announcement"] = options.get("announcement") or note


# --- the site's index.html -------------------------------------------------------------------


def write_index(app: Sphinx, exception) -> None:
    """index.html: a redirect to the landing page that, unlike sphinx-external-toc's bare one
    (which it then leaves alone), names its favicon: else browsers ask for /favicon.ico (404)."""
    if exception is not None or app.builder.format != "html" or app.config.master_doc == "index":
        return
    target = app.builder.get_target_uri(app.config.master_doc)
    favicon = app.config.html_favicon or ""
    icon = ""
    if favicon:
        href = favicon if "://" in favicon else f"_static/{Path(favicon).name}"
        icon = f'<link rel="icon" href="{html.escape(href)}">'
    title = html.escape(app.config.html_title or app.config.project or "")
    Path(app.outdir, "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title>{icon}"
        f'<meta http-equiv="Refresh" content="0; url={html.escape(target)}"></head>'
        f'<body><p><a href="{html.escape(target)}">{title}</a></p></body></html>\n',
        encoding="utf8",
    )


# --- the notebooks as the book reads them ---------------------------------------------------


def read_student_notebook(text: str) -> nbformat.NotebookNode:
    """Read a student edition with the MyST original of each Markdown cell that has one."""
    return with_myst(nbformat.reads(text, as_version=4))


# --- the instructor edition's notebooks ---------------------------------------------------


def read_instructor_notebook(text: str) -> nbformat.NotebookNode:
    """Read a solution notebook keeping the outputs of its exercise and test cells.

    The source notebooks tag those cells remove-output (the student book shows prompts whose
    stubs raise); in the instructor edition they run and their checks' output is worth seeing.
    """
    nb = nbformat.reads(text, as_version=4)
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        tags = cell.metadata.get("tags")
        if tags and (grading.get("solution") or grading.get("grade")):
            cell.metadata["tags"] = [t for t in tags if t not in ("remove-output", "raises-exception")]
    return nb


def setup(app: Sphinx) -> dict:
    app.add_config_value("course_book_edition", "student", "env", [str])
    app.connect("config-inited", check_config)
    app.connect("doctree-read", widgets_as_text)
    app.connect("build-finished", write_index, priority=400)  # before sphinx-external-toc's
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
