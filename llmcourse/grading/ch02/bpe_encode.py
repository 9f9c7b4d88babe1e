"""Exercise 2, ``encode(text, merges) -> ids``, against a ``tokenizers`` BPE built from the
same merges, merges the checks trained (never the student's ``train_bpe``)."""

from __future__ import annotations

from typing import Any

from llmcourse.grading.contract import Case, Exercise, GradingError, SubCheck, check, kind_of, to_plain
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch02 import RUNNERS

from .common import BPE_FORBIDDEN, bpe_corpus, short, trained, unicode_text

_ORDER_TEXT = "bcbc bcbc bcbc bcbc ab ab ab aa aa"
_BOUNDARIES = " x'st 'sting ed's1999 ab12cd --the"  # words that meet without a space between them


def _encode_cases(hidden: bool) -> list[Case]:
    # (subcheck, training text, vocab_size, text to encode, visible)
    specs = [
        ("ids", bpe_corpus(3, 500), 400, bpe_corpus(4, 150) + _BOUNDARIES, True),
        ("ids", bpe_corpus(3, 500), 400, "", True),
        ("order", _ORDER_TEXT, 270, "abc aaa abcbc bcab aaaaa", True),
        ("unicode", bpe_corpus(3, 500), 400, unicode_text(0, 80), True),
        ("unicode", bpe_corpus(3, 500), 400, "naïve café, 日本語 😀 e\u0301", True),
    ]
    if hidden:
        specs += [
            ("ids", bpe_corpus(20, 800), 450, bpe_corpus(21, 300) + _BOUNDARIES, False),
            ("ids", bpe_corpus(22, 300), 300, _BOUNDARIES + bpe_corpus(23, 200), False),
            ("order", _ORDER_TEXT, 265, "aaaaaaa abcabc cbabc", False),
            ("order", _ORDER_TEXT.replace("a", "d"), 270, "dbc ddd dbcbc bcdb ddddd", False),
            ("unicode", bpe_corpus(20, 800), 450, unicode_text(1, 200), False),
            ("unicode", bpe_corpus(22, 300), 300, unicode_text(2, 120), False),
        ]
    cases = []
    for sub, training, vocab_size, text, visible in specs:
        tokenizer, merges = trained(training, vocab_size)
        label = f"text {short(text)}, {len(merges)} merges trained on {short(training, 24)}"
        cases.append(Case(sub, (text, list(merges)), to_plain(tokenizer.encode(text).ids), label, visible))
    return cases


def _as_ints(got: Any, what: str, context: str) -> list[int]:
    items = got.get("list", got.get("tuple")) if isinstance(got, dict) else None
    if items is None or not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        raise GradingError(f"{what} for {context}: expected a list of int ids, got {kind_of(got)}")
    return list(items)


def _encode_compare(case: Case, got: Any, expected: Any) -> None:
    ids, expected = _as_ints(got, "encode", case.label), _as_ints(expected, "encode", case.label)
    if ids != expected:
        at = next((i for i, (a, b) in enumerate(zip(ids, expected)) if a != b), min(len(ids), len(expected)))
        raise GradingError(
            f"encode for {case.label}: ids differ at position {at} (expected {len(expected)} ids, got {len(ids)}): "
            f"expected {expected[at : at + 6]}..., got {ids[at : at + 6]}..."
        )


# The catalogue, in the order a match is named: each id is a file in mistakes/bpe_encode/.
MISTAKES = (
    "greedy_left_to_right",
    "rightmost_first",
    "one_pass_per_word",
    "byte_value_ids",
    "merges_from_zero",
    "characters_not_bytes",
    "no_pretokenize",
)

BPE_ENCODE = Exercise(
    name="encode",
    cell="bpe_encode",
    test_cell="bpe_encode_tests",
    points=3,
    subchecks=(
        SubCheck(
            "ids",
            1.5,
            "the ids of a tokenizers BPE built from the same merges: the 256 byte characters numbered as "
            "initial_vocab(()), the merge of rank r is token 256 + r, words from pretokenize; '' gives []",
        ),
        SubCheck(
            "order",
            1.0,
            "in each word, the merge of lowest rank present is applied first (at its leftmost place), again and "
            "again until none applies",
        ),
        SubCheck(
            "unicode",
            0.5,
            "any Unicode text (accents, CJK, emoji, combining marks, characters unseen in training) is encoded "
            "from its UTF-8 bytes, with no unknown token",
        ),
    ),
    cases=_encode_cases,
    run=RUNNERS["bpe_encode"],
    compare=_encode_compare,
    forbidden=BPE_FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_encode(fn, hidden: bool = False) -> None:
    """Exercise 2, against a tokenizers BPE with the same merges (merges the checks trained, not
    your train_bpe's). Hidden: more texts and merges."""
    check(BPE_ENCODE, fn, hidden)
