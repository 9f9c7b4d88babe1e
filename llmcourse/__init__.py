"""llmcourse: the reference implementations behind the course's chapters.

Each module holds one idea (``attention``, ``gpt``, ``bpe``, ``data``, ...); notebooks
import from here instead of copying code between chapters.
"""

import importlib.metadata

from llmcourse.hardware import device

__all__ = ["device"]
try:
    # pyproject.toml's: the one place the version is written (`make release` bumps it)
    __version__ = importlib.metadata.version("llmcourse")
except importlib.metadata.PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "unknown"
