"""Student-side runners of chapter 06 (prompting): see :mod:`llmcourse.grading.runners`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def run_few_shot_messages(fn: Callable[..., Any], inputs: tuple) -> Any:
    """``few_shot_messages(system, examples, query)``, the examples as (input, output) tuples."""
    system, examples, query = inputs
    return fn(system, [tuple(e) for e in examples], query)


def run_fill_template(fn: Callable[..., Any], inputs: tuple) -> dict[str, Any]:
    """``fill_template(template, **fields)``: ``{"ok": text}``, or the exception it raised
    (its type's name and message)."""
    template, items = inputs
    try:
        return {"ok": fn(template, **dict(items))}
    except Exception as exc:  # noqa: BLE001 - which exception, and what it says, is the result
        return {"raised": type(exc).__name__, "message": str(exc)[:500]}


def run_quote_untrusted(fn: Callable[[str], Any], texts: list[str]) -> list[dict[str, Any]]:
    """``quote_untrusted(text)`` of each text, and ``unquote`` (from the answer's own cell) of
    the quoted form."""
    unquote = getattr(fn, "__globals__", {}).get("unquote")
    if not callable(unquote):
        raise NameError("unquote is not defined: write it in the same cell as quote_untrusted")
    results = []
    for text in texts:
        quoted = fn(text)
        results.append({"quoted": quoted, "back": unquote(quoted) if isinstance(quoted, str) else None})
    return results


RUNNERS: dict[str, Callable] = {
    "few_shot_messages": run_few_shot_messages,
    "fill_template": run_fill_template,
    "quote_untrusted": run_quote_untrusted,
}
