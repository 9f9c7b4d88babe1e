"""Exercise 1, ``train_bpe(text, vocab_size) -> merges``, against ``tokenizers``' ``BpeTrainer``
(byte-level, no special token, the 256 byte characters as the initial alphabet)."""

from __future__ import annotations

from typing import Any

from tokenizers import pre_tokenizers

from llmcourse.grading.contract import Case, Exercise, GradingError, SubCheck, check, kind_of, to_plain
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners.ch02 import RUNNERS

from .common import BPE_FORBIDDEN, bpe_corpus, oracle_merges, oracle_trained, short, unicode_text


def _oracle_words(text: str) -> list[str]:
    """The pre-tokens of ``text`` in the byte alphabet, as ``tokenizers``' ByteLevel splits them."""
    splitter = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return [word for word, _ in splitter.pre_tokenize_str(text)]


# train_bpe: (subcheck, text, vocab_size, visible)
_TIES_TEXT = "zzq zzq zzq yyp yyp yyp aax aax aax zzyy yyzz aazz zzaa yyaa"
_REPEATS_TEXT = "aaaa aaaa aaa aaa aab aab abab abab abab bbbb bb mmmm mm mmm hmmm " * 3


def _train_cases(hidden: bool) -> list[Case]:
    specs = [
        ("merges", bpe_corpus(0, 500), 400, True),
        ("merges", _REPEATS_TEXT, 300, True),
        ("ties", _TIES_TEXT, 280, True),
        ("stop", bpe_corpus(1, 300), 300, True),
        ("stop", "ab ab ba", 300, True),
        ("stop", "hello", 256, True),
        ("words", bpe_corpus(2, 400), 350, True),
    ]
    if hidden:
        specs += [
            ("merges", bpe_corpus(10, 800), 450, False),
            ("merges", bpe_corpus(11, 300) + _REPEATS_TEXT, 330, False),
            ("merges", bpe_corpus(12, 200) + unicode_text(12, 300), 400, False),
            ("ties", _TIES_TEXT.replace("z", "k").replace("a", "c"), 280, False),
            ("ties", " ".join(_TIES_TEXT.split()[::-1]), 290, False),
            ("stop", bpe_corpus(13, 200), 257, False),
            ("stop", "abc abc abc", 1000, False),
            ("stop", "a b c", 300, False),
            ("words", bpe_corpus(14, 600), 420, False),
        ]
    cases = []
    for sub, text, vocab_size, visible in specs:
        merges = oracle_merges(oracle_trained(text, vocab_size))
        label = f"text {short(text)} ({len(text)} characters), vocab_size={vocab_size}"
        cases.append(Case(sub, (text, vocab_size), to_plain(merges), label, visible))
    return cases


def _as_merges(got: Any, context: str) -> list[tuple[str, str]]:
    """A returned list of merges (plain data) as pairs of strings, or a GradingError."""
    items = got.get("list", got.get("tuple")) if isinstance(got, dict) else None
    if items is None:
        raise GradingError(f"train_bpe for {context}: expected a list of (str, str) pairs, got {kind_of(got)}")
    merges = []
    for rank, item in enumerate(items):
        pair = item.get("tuple", item.get("list")) if isinstance(item, dict) else None
        if pair is None or len(pair) != 2 or not all(isinstance(s, str) for s in pair):
            raise GradingError(
                f"train_bpe for {context}: merge #{rank} should be a pair of strings, got {kind_of(item)}"
            )
        merges.append((pair[0], pair[1]))
    return merges


def _train_compare(case: Case, got: Any, expected: Any) -> None:
    merges, want = _as_merges(got, case.label), _as_merges(expected, case.label)
    if merges == want:
        return
    if case.subcheck == "stop":  # the number of merges alone
        if len(merges) != len(want):
            raise GradingError(f"train_bpe for {case.label}: expected {len(want)} merges, got {len(merges)}")
        return
    if case.subcheck == "words":  # each merged token lies inside one word
        words = _oracle_words(case.inputs[0])
        for rank, (left, right) in enumerate(merges):
            if not any(left + right in word for word in words):
                raise GradingError(
                    f"train_bpe for {case.label}: merge #{rank} {(left, right)} makes {left + right!r}, which is "
                    "in no word of pretokenize(text): a merge crossed a word boundary"
                )
        return
    for rank, (a, b) in enumerate(zip(want, merges)):
        if a != b:
            raise GradingError(
                f"train_bpe for {case.label}: merge #{rank} differs: expected {a}, got {b} (the merges before it agree)"
            )
    raise GradingError(
        f"train_bpe for {case.label}: expected {len(want)} merges, got {len(merges)} (the first "
        f"{min(len(merges), len(want))} agree)"
    )


# The catalogue, in the order a match is named: each id is a file in mistakes/train_bpe/.
MISTAKES = (
    "word_types",
    "pairs_once_per_word",
    "ties_first_seen",
    "ties_largest",
    "ties_by_string",
    "no_pretokenize",
    "raw_characters",
    "one_merge_too_few",
    "vocab_size_merges",
    "no_pair_left",
)

TRAIN_BPE = Exercise(
    name="train_bpe",
    cell="train_bpe",
    test_cell="train_bpe_tests",
    points=4,
    subchecks=(
        SubCheck(
            "merges",
            2.0,
            "the same merges in the same order as tokenizers' BpeTrainer: each step merges the most frequent "
            "adjacent pair, counted in every word and weighted by the word's frequency",
        ),
        SubCheck("ties", 1.0, "among equally frequent pairs, the one with the smallest (left id, right id)"),
        SubCheck("stop", 0.5, "vocab_size - 256 merges, fewer when no adjacent pair is left"),
        SubCheck("words", 0.5, "no merge crosses a boundary between the words of pretokenize(text)"),
    ),
    cases=_train_cases,
    run=RUNNERS["train_bpe"],
    compare=_train_compare,
    forbidden=BPE_FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_train_bpe(fn, hidden: bool = False) -> None:
    """Exercise 1, against tokenizers' BpeTrainer. Visible: each requirement on a small text;
    hidden: more texts and vocabulary sizes."""
    check(TRAIN_BPE, fn, hidden)
