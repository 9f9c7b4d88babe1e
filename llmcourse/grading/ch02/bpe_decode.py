"""Exercise 3, ``decode(ids, merges) -> text``, against ``tokenizers``' ``ByteLevel`` decoder,
with merges the checks trained."""

from __future__ import annotations

import functools
from typing import Any

from llmcourse.grading.contract import Case, Exercise, GradingError, SubCheck, check, kind_of
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch02 import RUNNERS

from .common import BPE_FORBIDDEN, bpe_corpus, short, trained, unicode_text


def _decode_cases(hidden: bool) -> list[Case]:
    # (subcheck, training text, vocab_size, ids or text to encode, visible)
    split = "é日😀"  # characters whose bytes no merge of the course texts joins
    specs: list[tuple[str, str, int, Any, bool]] = [
        ("roundtrip", bpe_corpus(3, 500), 400, bpe_corpus(5, 80), True),
        ("roundtrip", bpe_corpus(3, 500), 400, unicode_text(3, 60), True),
        ("bytes", bpe_corpus(3, 500), 400, split, True),
        ("invalid", bpe_corpus(3, 500), 400, ["\x80", "a", "\xe6", "\x97", "b", "\xff", "\xc3"], True),
    ]
    if hidden:
        specs += [
            ("roundtrip", bpe_corpus(20, 800), 450, bpe_corpus(24, 200), False),
            ("roundtrip", bpe_corpus(22, 300), 300, unicode_text(4, 200), False),
            ("bytes", bpe_corpus(20, 800), 450, "ΩЖ中😀👩\u200d💻 نص", False),
            (
                "invalid",
                bpe_corpus(20, 800),
                450,
                ["\xe6", "\x97", "\xa5", "\xe6", "\x97", "x", "\xf0", "\x9f"],
                False,
            ),
            ("invalid", bpe_corpus(22, 300), 300, ["\xed", "\xa0", "\x80", "\xc0", "\xaf", "\xfe"], False),
        ]
    cases = []
    for sub, training, vocab_size, what, visible in specs:
        tokenizer, merges = trained(training, vocab_size)
        if isinstance(what, str):  # a text: its ids by the oracle
            ids = tokenizer.encode(what).ids
            label = f"the ids of {short(what)} ({len(merges)} merges)"
        else:  # raw bytes, one byte token each (latin-1 maps a character to its byte)
            byte_char = {b: c for c, b in _oracle_byte_table().items()}
            vocab = tokenizer.get_vocab()
            ids = [vocab[byte_char[ord(b)]] for b in what]
            label = f"the byte tokens of {bytes(ord(b) for b in what)!r} ({len(merges)} merges)"
        cases.append(Case(sub, (ids, list(merges)), tokenizer.decode(ids), label, visible))
    return cases


@functools.cache
def _oracle_byte_table() -> dict[str, int]:
    """Byte character -> byte, GPT-2's table (``encoder.py``'s ``bytes_to_unicode``) written out
    here: printable Latin-1 bytes stand for themselves, the others take 256, 257, ... in order."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    shifted = [b for b in range(256) if b not in printable]
    table = {chr(b): b for b in printable}
    table.update({chr(256 + n): b for n, b in enumerate(shifted)})
    return table


def _decode_compare(case: Case, got: Any, expected: Any) -> None:
    if not isinstance(got, str):
        raise GradingError(f"decode for {case.label}: expected a str, got {kind_of(got)}")
    if got != expected:
        at = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
        raise GradingError(
            f"decode for {case.label}: the texts differ at character {at} (expected {len(expected)} characters, "
            f"got {len(got)}): expected {expected[at : at + 12]!r}, got {got[at : at + 12]!r}"
        )


# The catalogue, in the order a match is named: each id is a file in mistakes/bpe_decode/.
MISTAKES = (
    "token_by_token",
    "byte_characters",
    "errors_ignore",
    "strict",
    "latin1",
    "ord_of_character",
    "byte_value_ids",
    "merges_from_zero",
)

BPE_DECODE = Exercise(
    name="decode",
    cell="bpe_decode",
    test_cell="bpe_decode_tests",
    points=2,
    subchecks=(
        SubCheck("roundtrip", 1.0, "decode(encode(text, merges), merges) == text for any Unicode text"),
        SubCheck(
            "bytes",
            0.5,
            "the bytes of all the tokens are joined before decoding UTF-8: a character split across tokens comes "
            "back whole",
        ),
        SubCheck(
            "invalid",
            0.5,
            "bytes that are not valid UTF-8 become U+FFFD, as bytes.decode('utf-8', errors='replace') and "
            "tokenizers' ByteLevel decoder do",
        ),
    ),
    cases=_decode_cases,
    run=RUNNERS["bpe_decode"],
    compare=_decode_compare,
    forbidden=BPE_FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_decode(fn, hidden: bool = False) -> None:
    """Exercise 3, against tokenizers' ByteLevel decoder (merges the checks trained). Hidden: more
    texts and invalid byte sequences."""
    check(BPE_DECODE, fn, hidden)
