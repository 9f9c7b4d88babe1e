"""Exercise 1, ``few_shot_messages(system, examples, query) -> list[dict]``, against message
lists built by hand here (:func:`_expected_messages`), never by :mod:`llmcourse.prompting`."""

from __future__ import annotations

import random
from typing import Any

from llmcourse.grading.contract import Case, Exercise, GradingError, SubCheck, check, kind_of, to_plain
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch06 import RUNNERS

from .common import forbidden, python_of, short


def _expected_messages(system: str, examples: list[tuple[str, str]], query: str) -> list[dict]:
    expected = [{"role": "system", "content": system}]
    for user, assistant in examples:
        expected += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return expected + [{"role": "user", "content": query}]


_EMOJI_SYSTEM = "You describe movies with emojis only."
_EMOJI_EXAMPLES = [("Titanic", "🚢🧊💔"), ("The Lion King", "🦁👑🌅")]
_QA_EXAMPLES = [
    ("What colour is a carrot?", "A carrot is orange."),
    ("What colour is a banana?", "A banana is yellow."),
    ("What day comes after Monday?", "Tuesday."),
]


def _fs_case(sub: str, system: str, examples: list[tuple[str, str]], query: str, visible: bool) -> Case:
    label = f"system={short(system, 60)}, {len(examples)} example(s) {short(examples, 90)}, query={short(query, 50)}"
    return Case(
        sub, (system, tuple(examples), query), to_plain(_expected_messages(system, examples, query)), label, visible
    )


def _random_examples(rng: random.Random, n: int) -> list[tuple[str, str]]:
    words = "cat dog red blue one two Paris Rome translate summarise\nnew line émoji 🙂 {braces} 'quotes'".split(" ")
    return [
        (" ".join(rng.choices(words, k=rng.randint(1, 6))), " ".join(rng.choices(words, k=rng.randint(0, 6))))
        for _ in range(n)
    ]


def _fs_cases(hidden: bool) -> list[Case]:
    cases = [
        _fs_case("structure", _EMOJI_SYSTEM, _EMOJI_EXAMPLES, "Jurassic Park", True),
        _fs_case("system", _EMOJI_SYSTEM, _EMOJI_EXAMPLES, "Jurassic Park", True),
        _fs_case("examples", _EMOJI_SYSTEM, _EMOJI_EXAMPLES, "Jurassic Park", True),
        _fs_case("examples", "Answer in one sentence.", _QA_EXAMPLES, "What colour is a grape?", True),
        _fs_case("query", _EMOJI_SYSTEM, _EMOJI_EXAMPLES, "Jurassic Park", True),
        _fs_case("no_examples", "Be brief.", [], "Write a short poem about summer.", True),
    ]
    if hidden:
        rng = random.Random(6)
        for n in (1, 2, 4, 7):
            system, query = " ".join(_random_examples(rng, 1)[0]), _random_examples(rng, 1)[0][0]
            examples = _random_examples(rng, n)
            cases += [
                _fs_case(sub, system, examples, query, False) for sub in ("structure", "system", "examples", "query")
            ]
        cases += [_fs_case("no_examples", "", [], "", False), _fs_case("no_examples", "multi\nline", [], "q\n", False)]
        cases.append(_fs_case("examples", "", [("same", "same")] * 3, "same", False))
    return cases


def _messages_of(plain: Any, case: Case) -> list:
    value = python_of(plain)
    if not isinstance(value, list):
        raise GradingError(f"few_shot_messages must return a list of messages, got {kind_of(plain)} for {case.label}")
    return value


def _fs_compare(case: Case, got: Any, expected: Any) -> None:
    messages, want = _messages_of(got, case), python_of(expected)
    if case.subcheck == "structure":
        for i, m in enumerate(messages):
            if (
                not isinstance(m, dict)
                or set(m) != {"role", "content"}
                or not all(isinstance(v, str) for v in m.values())
            ):
                raise GradingError(
                    f"message {i} must be a dict with the string keys 'role' and 'content' only, got {short(m)} for "
                    f"{case.label}"
                )
        if len(messages) != len(want):
            raise GradingError(
                f"expected {len(want)} messages (system, 2 per example, query), got {len(messages)} for {case.label}"
            )
        return
    if not messages:
        raise GradingError(f"few_shot_messages returned an empty list for {case.label}")
    if case.subcheck == "system":
        if messages[0] != want[0]:
            raise GradingError(f"the first message must be {short(want[0])}, got {short(messages[0])} for {case.label}")
        return
    if case.subcheck == "query":
        if messages[-1] != want[-1]:
            raise GradingError(
                f"the last message must be the query as a user message, {short(want[-1])}; got "
                f"{short(messages[-1])} for {case.label}"
            )
        return
    if case.subcheck == "examples":
        middle, want_middle = messages[1:-1], want[1:-1]
    else:  # no_examples: the whole list
        middle, want_middle = messages, want
    for i, (m, w) in enumerate(zip(middle, want_middle)):
        if m != w:
            offset = 1 if case.subcheck == "examples" else 0
            raise GradingError(f"message {i + offset}: expected {short(w)}, got {short(m)} for {case.label}")
    if len(middle) != len(want_middle):
        raise GradingError(
            f"expected {len(want)} messages, got {len(messages)} for {case.label}: {short(messages, 300)}"
        )


# The catalogue, in the order a match is named: each id is a file in mistakes/few_shot_messages/.
MISTAKES = (
    "roles_swapped",
    "no_system",
    "system_as_user",
    "example_in_one_message",
    "query_first",
    "query_as_assistant",
    "examples_reversed",
    "system_last",
    "no_query",
    "text_key",
    "name_key",
    "capitalised_roles",
    "first_example_only",
    "tuples",
)

FEW_SHOT_MESSAGES = Exercise(
    name="few_shot_messages",
    cell="few_shot_messages",
    test_cell="few_shot_messages_tests",
    points=3,
    subchecks=(
        SubCheck(
            "structure",
            0.5,
            "returns a list of dicts with exactly the keys 'role' and 'content' (strings), 2 + 2 x len(examples) of "
            "them",
        ),
        SubCheck("system", 0.5, "the first message is the system message"),
        SubCheck(
            "examples",
            1.0,
            "each example, in order, is a user message (its input) then an assistant message (its output)",
        ),
        SubCheck("query", 0.5, "the last message is the query, as a user message"),
        SubCheck("no_examples", 0.5, "with no examples: the system message and the query only"),
    ),
    cases=_fs_cases,
    run=RUNNERS["few_shot_messages"],
    compare=_fs_compare,
    forbidden=forbidden("few_shot_messages"),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_few_shot_messages(fn, hidden: bool = False) -> None:
    """Exercise 1, against message lists built by hand. Hidden: random examples, 1 to 7 of them."""
    check(FEW_SHOT_MESSAGES, fn, hidden)
