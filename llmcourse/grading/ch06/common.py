"""What chapter 06's three exercises share: the course's reference they may not call, plain
data read back as Python values, and short previews of values for messages."""

from __future__ import annotations

from typing import Any

from llmcourse.grading.contract import Forbidden

REFERENCE = "llmcourse.prompting"


def forbidden(*functions: str) -> Forbidden:
    """What an exercise may not call: ``functions`` of the course's reference, and the reference
    module and its ``template_fields`` by name."""
    return Forbidden(python=tuple(f"{REFERENCE}:{f}" for f in functions), names=(REFERENCE, "template_fields"))


def python_of(plain: Any) -> Any:
    """Plain data back to Python values (str, int, float, None, lists, tuples, dicts); other
    objects become ``<object Name>``."""
    if plain is None or isinstance(plain, (bool, int, str)):
        return plain
    ((key, inner),) = plain.items()
    if key == "float":
        return float(inner)
    if key == "list":
        return [python_of(v) for v in inner]
    if key == "tuple":
        return tuple(python_of(v) for v in inner)
    if key == "dict":
        return {k: python_of(v) for k, v in inner.items()}
    if key == "tensor":
        return f"<{inner['kind']}>"
    return f"<object {inner}>"


def short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."
