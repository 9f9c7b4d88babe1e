"""One version: pyproject.toml's. The package reads it from its installed metadata, `make release`
pins the notebooks' set-up cells to ``v<version>`` (tests/test_notebooks.py) and bumps the copy in
CITATION.cff; everything else must agree."""

import importlib.metadata
import re
from pathlib import Path

import llmcourse

ROOT = Path(__file__).resolve().parents[1]
import tomllib  # noqa: E402

from llmcourse.grading import cli as course  # noqa: E402

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_installed_package_has_pyprojects_version():
    installed = importlib.metadata.version("llmcourse")
    assert installed == VERSION == llmcourse.__version__, (
        f"pyproject.toml says {VERSION}, the installed llmcourse {installed}: reinstall it (make setup)"
    )


def test_the_citation_and_the_release_tag_agree():
    cited = re.search(r'(?m)^version: "([^"]+)"', (ROOT / "CITATION.cff").read_text())
    assert cited and cited.group(1) == VERSION
    assert course.course_release() == f"v{VERSION}"


def test_nothing_else_writes_the_version():
    init = (ROOT / "llmcourse" / "__init__.py").read_text()
    assert not re.search(r"(?m)^__version__ = \"", init), "llmcourse.__version__ is read from the metadata"
