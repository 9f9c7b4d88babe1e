"""llmcourse: the reference implementations behind the course's chapters.

Each module holds one idea (``attention``, ``gpt``, ``bpe``, ``data``, ...); notebooks
import from here instead of copying code between chapters.
"""

from llmcourse.hardware import device

__all__ = ["device"]
__version__ = "0.1.0"
