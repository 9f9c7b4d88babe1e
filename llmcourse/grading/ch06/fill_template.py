"""Exercise 2, ``fill_template(template, **fields) -> str``, against Python's own template parser,
``string.Formatter().parse``: the literal text and the fields (``{{``/``}}`` already turned into
single braces) give the expected text, ``str(value)`` for each field, and set differences give
the missing and unknown fields a ``ValueError`` must name."""

from __future__ import annotations

import string
from typing import Any

from llmcourse.grading.contract import Case, Exercise, GradingError, SubCheck, check, to_plain
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch06 import RUNNERS

from .common import forbidden, python_of, short


def _template_oracle(template: str, fields: dict) -> dict:
    """``string.Formatter().parse`` reads the template; the result or the fields at fault."""
    parts = list(string.Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name is not None]
    missing = sorted({n for n in names if n not in fields})
    unknown = sorted(set(fields) - set(names))
    if missing or unknown:
        return {"raised": "ValueError", "missing": missing, "unknown": unknown}
    return {"ok": "".join(literal + (str(fields[name]) if name is not None else "") for literal, name, _, _ in parts)}


_TEMPLATE_CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    # (sub-check, template, fields, visible)
    ("fill", "Write a {length}-line poem about {topic}.", {"length": 4, "topic": "summer"}, True),
    ("fill", "{name} and {name} again; {n} times", {"name": "Ada", "n": 2}, True),
    ("fill", "Translate into {language}:\n{text}\n", {"language": "French", "text": "The cat sat."}, True),
    ("fill", "no fields at all", {}, False),
    ("fill", "{a}{b}{c}", {"a": 1.5, "b": None, "c": "-"}, False),
    (
        "fill",
        "Summarise in {words} words for {audience}:\n\n{document}",
        {"words": 20, "audience": "children", "document": "A long text.\nWith lines."},
        False,
    ),
    ("braces", 'Answer as JSON: {{"answer": "{answer}"}}', {"answer": "yes"}, True),
    ("braces", "Say {x}", {"x": "{y} and {{z}}"}, True),
    ("braces", "{{{a}}} {{}} }}{{", {"a": "A"}, False),  # values are strings here: str() is the "fill" requirement's
    ("braces", "{a} {b}", {"a": "{b}", "b": "B"}, False),
    ("braces", "{{literal}} only", {}, False),
    ("missing", "{topic} for {audience} in {language}", {"topic": "prompts"}, True),
    ("missing", "Dear {recipient},\n{greeting}", {}, False),
    ("missing", "{alpha} {beta} {gamma} {alpha}", {"beta": 1}, False),
    ("unknown", "Hello {name}", {"name": "Ada", "tone": "warm", "length": 3}, True),
    (
        "unknown",
        "Write about {topic} for {audience}",
        {"topc": "LoRA", "audience": "students"},
        True,
    ),  # a typo: missing and unknown
    ("unknown", "no fields", {"colour": "red"}, False),
    ("unknown", "{a}", {"a": 1, "bb": 2, "ccc": 3, "dddd": 4}, False),
    ("missing", "{present} {absent1} {absent2}", {"present": 1, "stray1": 2, "stray2": 3}, False),
    ("unknown", "{present} {absent1} {absent2}", {"present": 1, "stray1": 2, "stray2": 3}, False),
]


def _template_cases(hidden: bool) -> list[Case]:
    return [
        Case(
            sub,
            (template, tuple(fields.items())),
            to_plain(_template_oracle(template, fields)),
            f"template={template!r}, fields={short(fields, 100)}",
            visible,
        )
        for sub, template, fields, visible in _TEMPLATE_CASES
        if visible or hidden
    ]


def _field_names(case: Case) -> list[str]:
    template, items = case.inputs
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return sorted(names | {k for k, _ in items})


def _template_compare(case: Case, got: Any, expected: Any) -> None:
    result, want = python_of(got), python_of(expected)
    if not isinstance(result, dict):
        raise GradingError(f"fill_template returned something the grader cannot read for {case.label}")
    if "missing" in want:  # the oracle: a ValueError naming every field at fault
        at_fault = want["missing"] if case.subcheck == "missing" else want["unknown"]
        kind = "missing" if case.subcheck == "missing" else "unknown"
        if "ok" in result:
            raise GradingError(
                f"expected a ValueError naming the {kind} field(s) {at_fault}, but fill_template returned "
                f"{short(result['ok'])} for {case.label}"
            )
        if result.get("raised") != "ValueError":
            raise GradingError(
                f"expected a ValueError naming the {kind} field(s) {at_fault}, got {result.get('raised')}: "
                f"{short(result.get('message'))} for {case.label}"
            )
        unnamed = [n for n in at_fault if n not in result.get("message", "")]
        if unnamed:
            raise GradingError(
                f"the ValueError must name the {kind} field(s) {at_fault}; {unnamed} not in its message "
                f"{short(result.get('message'))} for {case.label}"
            )
        return
    if "message" in want:  # a catalogued mistake raised: same exception, same fields named
        if result.get("raised") != want["raised"] or [n in result.get("message", "") for n in _field_names(case)] != [
            n in want["message"] for n in _field_names(case)
        ]:
            raise GradingError("differs from the mistake's")
        return
    if "ok" not in result:
        raise GradingError(
            f"fill_template raised {result.get('raised')}: {short(result.get('message'))} for {case.label}; "
            f"expected {short(want['ok'])}"
        )
    if not isinstance(result["ok"], str):
        raise GradingError(f"fill_template must return a str, got {short(result['ok'])} for {case.label}")
    if result["ok"] != want["ok"]:
        text, expect = result["ok"], want["ok"]
        at = next((i for i, (a, b) in enumerate(zip(text, expect)) if a != b), min(len(text), len(expect)))
        raise GradingError(
            f"fill_template for {case.label}: expected {expect!r}, got {text!r} (first difference at character {at})"
        )


# The catalogue, in the order a match is named: each id is a file in mistakes/fill_template/.
MISTAKES = (
    "unknown_ignored",
    "format_directly",
    "naive_replace",
    "first_missing_only",
    "key_error",
    "values_expanded",
    "blank_for_missing",
    "vague_message",
    "repr_values",
    "first_occurrence_only",
    "template_stripped",
    "no_str",
)

FILL_TEMPLATE = Exercise(
    name="fill_template",
    cell="fill_template",
    test_cell="fill_template_tests",
    points=4,
    subchecks=(
        SubCheck(
            "fill",
            1.5,
            "every {name} field is replaced by str() of its value (a field may repeat; values may be numbers)",
        ),
        SubCheck(
            "braces",
            1.0,
            "{{ and }} become literal { and }, and values are inserted as they are (braces in a value are not "
            "expanded)",
        ),
        SubCheck("missing", 0.75, "a ValueError whose message names every missing field"),
        SubCheck(
            "unknown",
            0.75,
            "a ValueError whose message names every unknown field (a keyword the template does not use), "
            "also when fields are missing as well (a typo such as topc= for {topic})",
        ),
    ),
    cases=_template_cases,
    run=RUNNERS["fill_template"],
    compare=_template_compare,
    forbidden=forbidden("fill_template", "template_fields"),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_fill_template(fn, hidden: bool = False) -> None:
    """Exercise 2, against ``string.Formatter().parse``. Hidden: more templates, braces and fields at fault."""
    check(FILL_TEMPLATE, fn, hidden)
