"""`jupyter-book build` with the chapters executed side by side: what `make book` runs.

    python book/build.py [jupyter-book build's options] PATH

Jupyter Book 1 reads (and so executes) one page after another. Sphinx can read pages in
parallel processes, but `jupyter-book build` has no option for it, and Sphinx would hand each
process a fixed half of the pages. Here every page is its own task, the pages are read
``BOOK_JOBS`` at a time (default: one per CPU core), and each chapter's kernel gets an equal
share of the cores for PyTorch's threads, so that two kernels never fight over the same core.
On 2 cores the book builds in 253 s instead of 350-380 s; the pages are the same.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys


def jobs() -> int:
    """How many pages are read (chapters executed) at once: ``BOOK_JOBS``, else one per core."""
    value = os.environ.get("BOOK_JOBS") or str(os.cpu_count() or 1)
    if not value.isdigit() or int(value) < 1:
        sys.exit(f"BOOK_JOBS={value!r}: expected a whole number of processes, 1 or more")
    return int(value)


def one_page_per_task(docnames: list[str], nproc: int, maxbatch: int = 10) -> list[list[str]]:
    """Sphinx's chunks for a parallel read: each page alone, so a free process takes the next."""
    return [[name] for name in docnames]


# Extensions Jupyter Book loads that do not say whether they are safe for a parallel read, so
# Sphinx would read serially. Both are, read for read (their versions as pinned):
PARALLEL_SAFE_UNDECLARED = {
    # 0.1.3: replaces the toctree collector's section numbering, which runs in the main process
    # once every page is read
    "sphinx_multitoc_numbering",
    # 1.0.0: its transforms only mark up the page being read (for the LaTeX builder); nothing
    # is kept in the shared environment
    "sphinx_jupyterbook_latex",
}


def declare_parallel_read_safe(module_name: str) -> None:
    """Make the extension's ``setup`` say it is safe for a parallel read."""
    module = importlib.import_module(module_name)
    setup = module.setup

    def declared(app) -> dict:
        return {**(setup(app) or {}), "parallel_read_safe": True}

    module.setup = declared


def cache_pybtex_plugin_lookups() -> None:
    """pybtex finds its backend and style plugins by scanning every installed package's entry
    points, once per citation (about 30 ms a lookup in this environment, for some 250 citations);
    the installed packages do not change during a build, so each lookup is made once."""
    import importlib.metadata

    import pybtex.plugin

    @functools.cache
    def entry_points(**selection: str) -> tuple:
        return tuple(importlib.metadata.entry_points(**selection))

    pybtex.plugin.entry_points = entry_points  # the name its find_plugin and register_plugin call


def main() -> None:
    import sphinx.builders
    from jupyter_book import sphinx as jupyter_book_sphinx
    from jupyter_book.cli.main import main as jupyter_book

    processes = jobs()
    threads = str(max(1, (os.cpu_count() or 1) // processes))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # the chapters' kernels inherit them
        os.environ.setdefault(name, threads)
    sphinx.builders.make_chunks = one_page_per_task
    cache_pybtex_plugin_lookups()
    for name in PARALLEL_SAFE_UNDECLARED:
        declare_parallel_read_safe(name)
    serial_build = jupyter_book_sphinx.build_sphinx

    def build_sphinx(*args, **kwargs):
        return serial_build(*args, **kwargs, jobs=processes)

    jupyter_book_sphinx.build_sphinx = build_sphinx  # the CLI imports it from there when it runs
    jupyter_book(["build", *sys.argv[1:]], prog_name="jupyter-book build")


if __name__ == "__main__":
    main()
