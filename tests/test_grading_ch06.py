"""Chapter 06's checks: messages that name the likely mistake, partial credit by requirement,
the reference caught under any name, oracles independent of llmcourse.prompting that agree
with it, and unquote read from the answer's own cell."""

import string
from pathlib import Path

import pytest

from llmcourse import prompting as reference
from llmcourse.grading import GradingError, ch06
from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.ch06.fill_template import _TEMPLATE_CASES, _template_oracle
from llmcourse.grading.ch06.quote_untrusted import _random_texts
from llmcourse.grading.contract import check, mistake_answer
from llmcourse.grading.guards import review_source, scan_source

EXERCISES = (ch06.FEW_SHOT_MESSAGES, ch06.FILL_TEMPLATE, ch06.QUOTE_UNTRUSTED)
ALTERNATIVE_CODE = alternatives_of("06_prompting")  # autograde/alternatives/: valid answers, never shipped to students
MISTAKES = [(ex, m) for ex in EXERCISES for m in ex.mistakes]


def answer(exercise, code):
    namespace = {}
    exec(code, namespace)
    return namespace[exercise.name]


def by_id(exercise, mistake_id):
    return mistake_answer(exercise, next(m for m in exercise.mistakes if m.id == mistake_id))


@pytest.mark.parametrize("exercise, mistake", MISTAKES, ids=[f"{e.name}-{m.id}" for e, m in MISTAKES])
def test_checks_name_the_likely_mistake(exercise, mistake):
    with pytest.raises(GradingError) as failure:
        check(exercise, mistake_answer(exercise, mistake), hidden=True, quiet=True)
    assert f"Likely mistake: {mistake.message}" in str(failure.value)


@pytest.mark.parametrize(
    "exercise, mistake_id, lost",
    [
        (ch06.FEW_SHOT_MESSAGES, "no_system", {"structure", "system", "examples", "no_examples"}),
        (ch06.FEW_SHOT_MESSAGES, "query_as_assistant", {"query", "no_examples"}),
        (ch06.FEW_SHOT_MESSAGES, "examples_reversed", {"examples"}),
        (ch06.FEW_SHOT_MESSAGES, "tuples", {"structure", "system", "examples", "query", "no_examples"}),
        (ch06.FILL_TEMPLATE, "format_directly", {"missing", "unknown"}),
        (ch06.FILL_TEMPLATE, "first_missing_only", {"missing", "unknown"}),  # raised before the unknown ones were named
        (ch06.FILL_TEMPLATE, "unknown_ignored", {"unknown"}),
        (ch06.FILL_TEMPLATE, "values_expanded", {"braces"}),
        (ch06.FILL_TEMPLATE, "no_str", {"fill"}),  # braces cases have string values: str() is "fill"'s
        (ch06.QUOTE_UNTRUSTED, "no_escaping", {"attacks", "random"}),
        (ch06.QUOTE_UNTRUSTED, "strip", {"roundtrip", "random"}),  # whitespace at the ends is the round trip's
        (ch06.QUOTE_UNTRUSTED, "code_fence", {"delimiters", "attacks", "random"}),
    ],
)
def test_partial_credit_follows_the_requirements(exercise, mistake_id, lost):
    with pytest.raises(GradingError) as failure:
        check(exercise, by_id(exercise, mistake_id), hidden=True, quiet=True)
    failed = {s.id for s in exercise.subchecks if f"- {s.requirement}:" in str(failure.value)}
    assert failed == lost


def test_the_reference_passes_every_check_and_agrees_with_the_oracles():
    copy = {}  # a copy of the module: the reference's own functions are tripwires while an answer runs
    exec(compile(Path(reference.__file__).read_text(), "prompting_copy", "exec"), copy)
    check(ch06.FEW_SHOT_MESSAGES, copy["few_shot_messages"], hidden=True, quiet=True)
    check(ch06.FILL_TEMPLATE, copy["fill_template"], hidden=True, quiet=True)
    check(ch06.QUOTE_UNTRUSTED, copy["quote_untrusted"], hidden=True, quiet=True)  # unquote from the same namespace
    assert (ch06.OPEN, ch06.CLOSE) == (reference.OPEN, reference.CLOSE)


def test_messages_say_what_was_expected_and_what_came_back():
    with pytest.raises(GradingError) as failure:
        ch06.check_fill_template(by_id(ch06.FILL_TEMPLATE, "first_missing_only"))
    assert "missing field(s) ['audience', 'language']" in str(failure.value)
    assert "['language'] not in its message 'missing field: audience'" in str(failure.value)
    with pytest.raises(GradingError) as failure:
        ch06.check_quote_untrusted(by_id(ch06.QUOTE_UNTRUSTED, "no_escaping"))
    assert "occur once, at its end" in str(failure.value)
    with pytest.raises(GradingError) as failure:
        ch06.check_few_shot_messages(by_id(ch06.FEW_SHOT_MESSAGES, "roles_swapped"))
    assert "message 1: expected {'role': 'user', 'content': 'Titanic'}" in str(failure.value)


def test_unquote_must_be_defined_in_the_same_cell():
    namespace = {}
    exec("def quote_untrusted(text):\n    return '<data>' + text + '</data>'\n", namespace)
    with pytest.raises(GradingError, match="unquote is not defined"):
        ch06.check_quote_untrusted(namespace["quote_untrusted"])


def few_shot_reference(system, examples, query):
    return reference.few_shot_messages(system, examples, query)


def fill_reference_renamed(template, **fields):
    import importlib

    module = importlib.import_module("llmcourse." + "prompt" + "ing")
    return getattr(module, "fill_" + "template")(template, **fields)


@pytest.mark.parametrize(
    "fn, check_fn, used",
    [
        (few_shot_reference, ch06.check_few_shot_messages, "llmcourse.prompting.few_shot_messages"),
        (fill_reference_renamed, ch06.check_fill_template, "llmcourse.prompting.fill_template"),
    ],
)
def test_the_reference_is_caught_under_any_name(fn, check_fn, used):
    with pytest.raises(GradingError, match=f"must be written by you.*{used}"):
        check_fn(fn)
    assert reference.fill_template("{a}", a=1) == "1", "the reference works again afterwards"


@pytest.mark.parametrize(
    "source",
    [
        "from llmcourse.prompting import fill_template",
        "from llmcourse import prompting",
        "import llmcourse.prompting as p",
        "fields = p.template_fields(t)",
    ],
)
def test_the_source_scan_reads_forbidden_names(source):
    for exercise in EXERCISES:
        assert scan_source(source, exercise.forbidden.names), source


def test_a_string_naming_a_forbidden_module_is_for_review():
    """It may be honest (an error message); a call through it is caught when it runs (issue 15)."""
    for exercise in EXERCISES:
        assert not scan_source("m = importlib.import_module('llmcourse.prompting')", exercise.forbidden.names)
        assert review_source("m = importlib.import_module('llmcourse.prompting')", exercise.forbidden.names)


def test_honest_code_passes_the_source_scan():
    for key, exercise in ch06.EXERCISES.items():
        for code in ALTERNATIVE_CODE[key]:
            assert scan_source(code, exercise.forbidden.names) == []


def test_template_oracle_is_pythons_parser():
    assert _template_oracle("{{x}} {a} {a}", {"a": 1}) == {"ok": "{x} 1 1"}
    assert _template_oracle("{a} {b}", {"a": 1, "c": 2}) == {
        "raised": "ValueError",
        "missing": ["b"],
        "unknown": ["c"],
    }
    for _, template, fields, _ in _TEMPLATE_CASES:
        oracle = _template_oracle(template, fields)
        if "ok" in oracle:
            assert oracle["ok"] == template.format(**fields) == string.Formatter().vformat(template, (), fields)


def test_every_attack_holds_the_delimiter_or_an_escape():
    assert sum(ch06.CLOSE in a for a in ch06.ATTACKS) >= 6
    assert any("&lt;" in a for a in ch06.ATTACKS) and any("\\" in a for a in ch06.ATTACKS)
    texts = _random_texts(0, 20)
    assert sum(ch06.CLOSE in t for t in texts) >= 3, "the visible random texts hold the closing delimiter"
