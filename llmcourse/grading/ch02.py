"""Graded checks of chapter 02 (transformer anatomy), declared for the grading engine.

Test cells call ``check_train_bpe(fn)``, ``check_encode(fn)``, ``check_decode(fn)``,
``check_positional_encoding(fn)``, ``check_attention(fn)`` and ``check_multi_head_attention(cls)``
(visible cases); the hidden part adds ``hidden=True``. Expected values come from Hugging Face
``tokenizers`` (``BpeTrainer``, the ``BPE`` model, the ``ByteLevel`` decoder), from the formula
evaluated in float64 and from PyTorch (``F.scaled_dot_product_attention``,
``nn.MultiheadAttention``), never from ``llmcourse.bpe`` or ``llmcourse.attention``.
"""

from __future__ import annotations

import functools
import json
import math
import random
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch import nn

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    Mistake,
    SubCheck,
    check,
    expect_tensor,
    items_of,
    kind_of,
    to_plain,
)
from llmcourse.grading.kit import seeded
from llmcourse.grading.runners.ch02 import PROJECTIONS, RUNNERS

REFERENCE = "llmcourse.attention"
FUSED_TORCH = ("torch.nn.functional.scaled_dot_product_attention", "torch.nn.functional.multi_head_attention_forward")
FUSED_ATEN = ("scaled_dot_product", "multi_head_attention")


# ---------------------------------------------------------------- exercises 1-3: byte-level BPE
#
# The oracle is Hugging Face `tokenizers` (BpeTrainer, the BPE model and the ByteLevel decoder),
# built here on the grader's side; never llmcourse.bpe, which the student may read.

BPE_REFERENCE = "llmcourse.bpe"
BPE_FORBIDDEN = Forbidden(
    python=(
        f"{BPE_REFERENCE}:ByteLevelBPE",
        f"{BPE_REFERENCE}:train_fast",
        f"{BPE_REFERENCE}:merges_of",
        f"{BPE_REFERENCE}:to_hf",
        f"{BPE_REFERENCE}:_merge_pair",
    ),
    names=("ByteLevelBPE", "train_fast", "merges_of", "to_hf", "_merge_pair", "tokenizers", "tiktoken", "transformers"),
)

_SYLLABLES = ["th", "e", "an", "re", "in", "on", "at", "er", "st", "ou", "a", "o", "ing", "ed", "s", "ch", "ly", "ee"]
_FOREIGN = ["café", "naïve", "Straße", "日本語", "😀", "Ωμέγα", "привет", "mmm", "aaaa", "zzz"]
_SEPARATORS = [" "] * 12 + [". ", ", ", "!\n", "\n\n", "  ", " 1999 ", "'s ", " -- ", " ("]


def _bpe_corpus(seed: int, n_words: int) -> str:
    """English-like text: Zipf-distributed made-up words, some non-ASCII ones, punctuation."""
    rng = random.Random(seed)
    words = ["".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(300)] + _FOREIGN
    chosen = rng.choices(words, weights=[1 / (rank + 1) for rank in range(len(words))], k=n_words)
    return "".join((w.capitalize() if rng.random() < 0.1 else w) + rng.choice(_SEPARATORS) for w in chosen)


# Characters from many scripts (all assigned in Unicode 9, so every regex engine agrees on their
# class): accents, Greek, Cyrillic, Arabic, Hebrew, Devanagari, CJK, Hangul, emoji (one with a
# skin tone, one joined by ZWJ), combining marks, a no-break space, a tab, digits.
_UNICODE_POOL = (
    "abcdefgh xyz éèçñüß ÆØÅ ΑβγΩ привет Ж مرحبا שלום नमस्ते 日本語 中文 한국어 "
    "😀🚀👍🏽👩\u200d💻 e\u0301 a\u0308\u0323 \u00a0\t\n 0123 ,.;!?'\"()-"
)


def _unicode_text(seed: int, length: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(_UNICODE_POOL) for _ in range(length))


def _oracle_trained(text: str, vocab_size: int) -> Tokenizer:
    """``tokenizers``' byte-level BPE trained on ``text``: no special token, the 256 byte
    characters as the initial alphabet."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tokenizer.train_from_iterator([text], trainer=trainer)
    return tokenizer


def _oracle_merges(tokenizer: Tokenizer) -> list[tuple[str, str]]:
    return [(left, right) for left, right in json.loads(tokenizer.to_str())["model"]["merges"]]


def _oracle_words(text: str) -> list[str]:
    """The pre-tokens of ``text`` in the byte alphabet, as ``tokenizers``' ByteLevel splits them."""
    splitter = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return [word for word, _ in splitter.pre_tokenize_str(text)]


def _short(text: str, n: int = 40) -> str:
    return repr(text[:n]) + ("..." if len(text) > n else "")


# train_bpe: (subcheck, text, vocab_size, visible)
_TIES_TEXT = "zzq zzq zzq yyp yyp yyp aax aax aax zzyy yyzz aazz zzaa yyaa"
_REPEATS_TEXT = "aaaa aaaa aaa aaa aab aab abab abab abab bbbb bb mmmm mm mmm hmmm " * 3


def _train_cases(hidden: bool) -> list[Case]:
    specs = [
        ("merges", _bpe_corpus(0, 500), 400, True),
        ("merges", _REPEATS_TEXT, 300, True),
        ("ties", _TIES_TEXT, 280, True),
        ("stop", _bpe_corpus(1, 300), 300, True),
        ("stop", "ab ab ba", 300, True),
        ("stop", "hello", 256, True),
        ("words", _bpe_corpus(2, 400), 350, True),
    ]
    if hidden:
        specs += [
            ("merges", _bpe_corpus(10, 800), 450, False),
            ("merges", _bpe_corpus(11, 300) + _REPEATS_TEXT, 330, False),
            ("merges", _bpe_corpus(12, 200) + _unicode_text(12, 300), 400, False),
            ("ties", _TIES_TEXT.replace("z", "k").replace("a", "c"), 280, False),
            ("ties", " ".join(_TIES_TEXT.split()[::-1]), 290, False),
            ("stop", _bpe_corpus(13, 200), 257, False),
            ("stop", "abc abc abc", 1000, False),
            ("stop", "a b c", 300, False),
            ("words", _bpe_corpus(14, 600), 420, False),
        ]
    cases = []
    for sub, text, vocab_size, visible in specs:
        merges = _oracle_merges(_oracle_trained(text, vocab_size))
        label = f"text {_short(text)} ({len(text)} characters), vocab_size={vocab_size}"
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


_TRAIN_HEAD = """from collections import Counter
from llmcourse.bpe import bytes_to_unicode, initial_vocab, pretokenize
def train_bpe(text, vocab_size):
    vocab = initial_vocab(())
    tokens = list(vocab)
"""
_TRAIN_MERGE = """
def merge(word, pair, new_id):
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out
"""


def _train_mistake(words: str, count: str, choose: str, loop: str = "len(merges) < vocab_size - 256") -> str:
    """A naive trainer with one of its parts replaced: how the words are formed, how pairs are
    counted, how the best pair is chosen, when it stops."""
    return (
        _TRAIN_HEAD
        + f"    words = {words}\n"
        + """    merges = []
    while """
        + loop
        + """:
        counts = Counter()
        for word, n in words.items():
"""
        + count
        + """        if not counts:
            break
"""
        + choose
        + """        left, right = tokens[best[0]], tokens[best[1]]
        merges.append((left, right))
        vocab[left + right] = len(tokens)
        tokens.append(left + right)
        words = {tuple(merge(list(w), best, vocab[left + right])): n for w, n in words.items()}
    return merges
"""
        + _TRAIN_MERGE
    )


_WORDS = "Counter(tuple(vocab[c] for c in w) for w in pretokenize(text))"
_COUNT = "            for pair in zip(word, word[1:]):\n                counts[pair] += n\n"
_CHOOSE = "        best = min(counts, key=lambda pair: (-counts[pair], pair))\n"

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
    mistakes=(
        Mistake(
            "word_types",
            "you count each distinct word once: weight each word's pairs by how often the word occurs",
            _train_mistake("{w: 1 for w in " + _WORDS + "}", _COUNT, _CHOOSE),
        ),
        Mistake(
            "pairs_once_per_word",
            'you count a pair once per word; "aaa" holds the pair ("a", "a") twice, and both count',
            _train_mistake(
                _WORDS,
                "            for pair in set(zip(word, word[1:])):\n                counts[pair] += n\n",
                _CHOOSE,
            ),
        ),
        Mistake(
            "ties_first_seen",
            "your ties go to the pair seen first in the text (Counter.most_common keeps insertion order): the "
            "smallest (left id, right id) wins",
            _train_mistake(_WORDS, _COUNT, "        best = counts.most_common(1)[0][0]\n"),
        ),
        Mistake(
            "ties_largest",
            "your ties go to the largest (left id, right id): the smallest wins",
            _train_mistake(_WORDS, _COUNT, "        best = max(counts, key=lambda pair: (counts[pair], pair))\n"),
        ),
        Mistake(
            "ties_by_string",
            "your ties compare the pairs' strings; they compare the ids (a merged token's id is its rank + 256, "
            "not its place in alphabetical order)",
            _train_mistake(
                _WORDS,
                _COUNT,
                "        best = min(counts, key=lambda pair: (-counts[pair], tokens[pair[0]], tokens[pair[1]]))\n",
            ),
        ),
        Mistake(
            "no_pretokenize",
            "you treat the whole text as one word: split it with pretokenize first, so that no merge crosses a "
            "word boundary",
            _train_mistake(
                "Counter([tuple(vocab[bytes_to_unicode()[b]] for b in text.encode('utf-8'))])", _COUNT, _CHOOSE
            ),
        ),
        Mistake(
            "raw_characters",
            "you merge the text's characters, not its UTF-8 bytes in the byte alphabet (a space is 'Ġ', 'é' is two "
            "bytes 'Ã©'): use pretokenize's words",
            "import regex\n"
            + _train_mistake(
                "Counter(tuple(vocab.setdefault(c, len(vocab)) for c in w) for w in "
                'regex.findall(r""" ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+""", '
                "text))\n    tokens = list(vocab)",
                _COUNT,
                _CHOOSE,
                "len(tokens) < vocab_size",
            ),
        ),
        Mistake(
            "one_merge_too_few",
            "you stop one merge early: the vocabulary has 256 byte tokens plus one per merge, vocab_size in all",
            _train_mistake(_WORDS, _COUNT, _CHOOSE, "len(merges) < vocab_size - 257"),
        ),
        Mistake(
            "vocab_size_merges",
            "you make vocab_size merges: the 256 byte tokens count towards vocab_size, so make vocab_size - 256",
            _train_mistake(_WORDS, _COUNT, _CHOOSE, "len(merges) < vocab_size"),
        ),
        Mistake(
            "no_pair_left",
            "you do not stop when no adjacent pair is left (every word is a single token): stop there, with fewer "
            "merges",
            _train_mistake(_WORDS, _COUNT, _CHOOSE).replace("        if not counts:\n            break\n", ""),
        ),
    ),
)


# encode and decode are graded with the oracle's merges (never the student's train_bpe), so that
# each exercise stands on its own.
_ORDER_TEXT = "bcbc bcbc bcbc bcbc ab ab ab aa aa"
_BOUNDARIES = " x'st 'sting ed's1999 ab12cd --the"  # words that meet without a space between them


@functools.cache
def _trained(text: str, vocab_size: int) -> tuple[Tokenizer, tuple[tuple[str, str], ...]]:
    tokenizer = _oracle_trained(text, vocab_size)
    return tokenizer, tuple(_oracle_merges(tokenizer))


def _encode_cases(hidden: bool) -> list[Case]:
    # (subcheck, training text, vocab_size, text to encode, visible)
    specs = [
        ("ids", _bpe_corpus(3, 500), 400, _bpe_corpus(4, 150) + _BOUNDARIES, True),
        ("ids", _bpe_corpus(3, 500), 400, "", True),
        ("order", _ORDER_TEXT, 270, "abc aaa abcbc bcab aaaaa", True),
        ("unicode", _bpe_corpus(3, 500), 400, _unicode_text(0, 80), True),
        ("unicode", _bpe_corpus(3, 500), 400, "naïve café, 日本語 😀 e\u0301", True),
    ]
    if hidden:
        specs += [
            ("ids", _bpe_corpus(20, 800), 450, _bpe_corpus(21, 300) + _BOUNDARIES, False),
            ("ids", _bpe_corpus(22, 300), 300, _BOUNDARIES + _bpe_corpus(23, 200), False),
            ("order", _ORDER_TEXT, 265, "aaaaaaa abcabc cbabc", False),
            ("order", _ORDER_TEXT.replace("a", "d"), 270, "dbc ddd dbcbc bcdb ddddd", False),
            ("unicode", _bpe_corpus(20, 800), 450, _unicode_text(1, 200), False),
            ("unicode", _bpe_corpus(22, 300), 300, _unicode_text(2, 120), False),
        ]
    cases = []
    for sub, training, vocab_size, text, visible in specs:
        tokenizer, merges = _trained(training, vocab_size)
        label = f"text {_short(text)}, {len(merges)} merges trained on {_short(training, 24)}"
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


_ENCODE_HEAD = """from llmcourse.bpe import bytes_to_unicode, initial_vocab, pretokenize
def encode(text, merges):
    vocab = initial_vocab(())
    for left, right in merges:
        vocab[left + right] = len(vocab)
    ranks = {(vocab[left], vocab[right]): rank for rank, (left, right) in enumerate(merges)}
    ids = []
    for word in pretokenize(text):
        word_ids = [vocab[c] for c in word]
"""
_ENCODE_LOOP = """        while True:
            found = [(ranks[pair], i) for i, pair in enumerate(zip(word_ids, word_ids[1:])) if pair in ranks]
            if not found:
                break
            rank, i = min(found)
            left, right = merges[rank]
            word_ids[i : i + 2] = [vocab[left + right]]
"""
_ENCODE_TAIL = """        ids.extend(word_ids)
    return ids
"""
_ENCODE = _ENCODE_HEAD + _ENCODE_LOOP + _ENCODE_TAIL

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
    mistakes=(
        Mistake(
            "greedy_left_to_right",
            "you merge the leftmost pair that has a merge; apply the merge of lowest rank first, wherever it is",
            _ENCODE_HEAD
            + """        i = 0
        while i < len(word_ids) - 1:
            pair = (word_ids[i], word_ids[i + 1])
            if pair in ranks:
                left, right = merges[ranks[pair]]
                word_ids[i : i + 2] = [vocab[left + right]]
                i = 0
            else:
                i += 1
"""
            + _ENCODE_TAIL,
        ),
        Mistake(
            "rightmost_first",
            'when the best pair occurs twice in a word ("aaa"), you merge its rightmost place first: merge the '
            "leftmost",
            _ENCODE.replace("rank, i = min(found)", "rank, i = min(found, key=lambda f: (f[0], -f[1]))"),
        ),
        Mistake(
            "one_pass_per_word",
            "you go over the word once, merging pairs as you meet them; repeat with the lowest rank each time "
            "until no merge applies",
            _ENCODE_HEAD
            + """        for rank in sorted({ranks[p] for p in zip(word_ids, word_ids[1:]) if p in ranks})[:1]:
            left, right = merges[rank]
            i, out = 0, []
            while i < len(word_ids):
                if i + 1 < len(word_ids) and (word_ids[i], word_ids[i + 1]) == (vocab[left], vocab[right]):
                    out.append(vocab[left + right])
                    i += 2
                else:
                    out.append(word_ids[i])
                    i += 1
            word_ids = out
"""
            + _ENCODE_TAIL,
        ),
        Mistake(
            "byte_value_ids",
            "your byte tokens have their byte value as id; they are numbered in the order of initial_vocab(()) "
            "(by the code point of their character: '!' is 0, 'Ġ' (a space) is 220)",
            _ENCODE.replace(
                "    vocab = initial_vocab(())\n",
                "    vocab = {c: b for b, c in bytes_to_unicode().items()}\n",
            ),
        ),
        Mistake(
            "merges_from_zero",
            "your merged tokens are numbered from 0, on top of the byte tokens: the merge of rank r is token 256 + r",
            _ENCODE.replace("vocab[left + right] = len(vocab)", "vocab[left + right] = len(vocab) - 256"),
        ),
        Mistake(
            "characters_not_bytes",
            "you map each character, not each UTF-8 byte, to a byte token: 'é' is two bytes, 'Ã©' in the byte "
            "alphabet, and '日' three",
            "import regex\n"
            + _ENCODE.replace(
                "    for word in pretokenize(text):\n        word_ids = [vocab[c] for c in word]\n",
                "    for word in regex.findall(r\"\"\"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| "
                '?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+""", text):\n'
                "        word_ids = [vocab[bytes_to_unicode()[ord(c) % 256]] for c in word]\n",
            ),
        ),
        Mistake(
            "no_pretokenize",
            "you encode the whole text as one word: split it with pretokenize, as in training, so that no merge "
            "crosses a word boundary",
            _ENCODE.replace(
                "pretokenize(text)", "[''.join(bytes_to_unicode()[b] for b in text.encode())][: len(text)]"
            ),
        ),
    ),
)


def _decode_cases(hidden: bool) -> list[Case]:
    # (subcheck, training text, vocab_size, ids or text to encode, visible)
    split = "é日😀"  # characters whose bytes no merge of the course texts joins
    specs: list[tuple[str, str, int, Any, bool]] = [
        ("roundtrip", _bpe_corpus(3, 500), 400, _bpe_corpus(5, 80), True),
        ("roundtrip", _bpe_corpus(3, 500), 400, _unicode_text(3, 60), True),
        ("bytes", _bpe_corpus(3, 500), 400, split, True),
        ("invalid", _bpe_corpus(3, 500), 400, ["\x80", "a", "\xe6", "\x97", "b", "\xff", "\xc3"], True),
    ]
    if hidden:
        specs += [
            ("roundtrip", _bpe_corpus(20, 800), 450, _bpe_corpus(24, 200), False),
            ("roundtrip", _bpe_corpus(22, 300), 300, _unicode_text(4, 200), False),
            ("bytes", _bpe_corpus(20, 800), 450, "ΩЖ中😀👩\u200d💻 نص", False),
            (
                "invalid",
                _bpe_corpus(20, 800),
                450,
                ["\xe6", "\x97", "\xa5", "\xe6", "\x97", "x", "\xf0", "\x9f"],
                False,
            ),
            ("invalid", _bpe_corpus(22, 300), 300, ["\xed", "\xa0", "\x80", "\xc0", "\xaf", "\xfe"], False),
        ]
    cases = []
    for sub, training, vocab_size, what, visible in specs:
        tokenizer, merges = _trained(training, vocab_size)
        if isinstance(what, str):  # a text: its ids by the oracle
            ids = tokenizer.encode(what).ids
            label = f"the ids of {_short(what)} ({len(merges)} merges)"
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


_DECODE_HEAD = """from llmcourse.bpe import bytes_to_unicode, initial_vocab
def decode(ids, merges):
    tokens = list(initial_vocab(())) + [left + right for left, right in merges]
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
"""
_DECODE = (
    _DECODE_HEAD
    + """    data = b"".join(bytes(byte_of[c] for c in tokens[i]) for i in ids)
    return data.decode("utf-8", errors="replace")
"""
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
    mistakes=(
        Mistake(
            "token_by_token",
            "you decode each token on its own: a character whose bytes are in two tokens becomes two U+FFFD; join "
            "the bytes of all tokens, then decode once",
            _DECODE_HEAD
            + """    return "".join(bytes(byte_of[c] for c in tokens[i]).decode("utf-8", errors="replace") for i in ids)
""",
        ),
        Mistake(
            "byte_characters",
            "you return the tokens' strings in the byte alphabet ('Ġthe'): map each character back to its byte "
            "and decode the bytes as UTF-8",
            _DECODE_HEAD
            + """    return "".join(tokens[i] for i in ids)
""",
        ),
        Mistake(
            "errors_ignore",
            "invalid bytes are dropped (errors='ignore'): they become U+FFFD (errors='replace')",
            _DECODE.replace('errors="replace"', 'errors="ignore"'),
        ),
        Mistake(
            "strict",
            "decoding stops with UnicodeDecodeError on bytes that are not valid UTF-8 (ids can cut a character): "
            "decode with errors='replace'",
            _DECODE.replace(', errors="replace"', ""),
        ),
        Mistake(
            "latin1",
            "you decode the bytes as Latin-1: they are UTF-8",
            _DECODE.replace('"utf-8", errors="replace"', '"latin-1"'),
        ),
        Mistake(
            "ord_of_character",
            "you take each character's code point as its byte ('Ġ' is U+0120 but stands for the byte 0x20): map "
            "the byte alphabet back with bytes_to_unicode's inverse",
            _DECODE_HEAD
            + """    data = b"".join(bytes(ord(c) % 256 for c in tokens[i]) for i in ids)
    return data.decode("utf-8", errors="replace")
""",
        ),
        Mistake(
            "byte_value_ids",
            "you read ids below 256 as byte values; the byte tokens are numbered in the order of initial_vocab(()) "
            "('!' is 0, 'Ġ' is 220)",
            _DECODE.replace(
                "bytes(byte_of[c] for c in tokens[i])",
                "(bytes([i]) if i < 256 else bytes(byte_of[c] for c in tokens[i]))",
            ),
        ),
        Mistake(
            "merges_from_zero",
            "your merged tokens are numbered from 0: the merge of rank r is token 256 + r",
            _DECODE_HEAD
            + """    table = dict(enumerate(tokens[:256]))
    table.update({rank: left + right for rank, (left, right) in enumerate(merges)})
    data = b"".join(bytes(byte_of[c] for c in table[i]) for i in ids)
    return data.decode("utf-8", errors="replace")
""",
        ),
    ),
)


# ---------------------------------------------------------------- exercise 4: positional encoding


def _pe_expected(P: int, D: int) -> torch.Tensor:
    """The formula, entry by entry in float64."""
    pos = torch.arange(P, dtype=torch.float64).unsqueeze(1)  # (P, 1)
    i = torch.arange(D, dtype=torch.float64).unsqueeze(0)  # (1, D)
    angle = pos / torch.pow(10000.0, 2 * torch.div(i, 2, rounding_mode="floor") / D)
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))


def _pe_cases(hidden: bool) -> list[Case]:
    sizes = {
        # an even d_model here: an odd one is the odd requirement's (a shape case with an odd
        # d_model would charge the odd columns' mistakes to the shape as well)
        "shape": [(3, 4, True), (5, 6, True), (1, 2, False), (17, 10, False), (1, 64, False)],
        "values": [(6, 8, True), (50, 32, False), (200, 64, False), (128, 512, False)],
        "odd": [(6, 5, True), (10, 1, False), (50, 33, False)],
    }
    return [
        Case(sub, (P, D), to_plain(_pe_expected(P, D)), f"num_positions={P}, d_model={D}", visible)
        for sub, all_sizes in sizes.items()
        for P, D, visible in all_sizes
        if visible or hidden
    ]


def _pe_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "shape":
        if not (isinstance(got, dict) and "tensor" in got):
            raise GradingError(f"expected a torch.Tensor for {case.label}, got {type(got).__name__}")
        shape, dtype = tuple(got["tensor"]["shape"]), got["tensor"]["dtype"]
        want = tuple(expected["tensor"]["shape"])
        if shape != want:
            raise GradingError(f"positional encoding for {case.label}: expected shape {want}, got {shape}")
        if not dtype.startswith(("float", "bfloat")):
            raise GradingError(f"positional encoding for {case.label}: expected a float tensor, got dtype {dtype}")
        return
    expect_tensor(got, expected, what="positional encoding", context=case.label, atol=1e-5, rtol=1e-4)


POSITIONAL_ENCODING = Exercise(
    name="sinusoidal_positional_encoding",
    cell="positional_encoding",
    test_cell="positional_encoding_tests",
    points=2,
    subchecks=(
        SubCheck("shape", 0.5, "returns a float tensor of shape (num_positions, d_model)"),
        SubCheck(
            "values", 1.0, "even columns are sines, odd columns cosines of pos / 10000^(2i/d_model), positions from 0"
        ),
        SubCheck("odd", 0.5, "when d_model is odd, the last column is a sine"),
    ),
    cases=_pe_cases,
    run=RUNNERS["positional_encoding"],
    compare=_pe_compare,
    forbidden=Forbidden(
        python=(f"{REFERENCE}:sinusoidal_positional_encoding",), names=("sinusoidal_positional_encoding", REFERENCE)
    ),
    mistakes=(
        Mistake(
            "sin_cos_swapped",
            "your even columns hold cosines and odd columns sines: swap them",
            """
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / 10000 ** ((i - i % 2) / d_model)
            pe[pos, i] = math.cos(angle) if i % 2 == 0 else math.sin(angle)
    return pe
""",
        ),
        Mistake(
            "exponent_i",
            "your exponent uses i / d_model for column i; both columns of a pair share 2i / d_model",
            """
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / 10000 ** (i / d_model)
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe
""",
        ),
        Mistake(
            "positions_from_one",
            "your positions start at 1; they start at 0",
            """
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(1, num_positions + 1, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
        Mistake(
            "halves",
            "you put all sines first and all cosines after; they alternate column by column",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    return torch.cat([torch.sin(angles), torch.cos(angles[:, : d_model // 2])], dim=1)
""",
        ),
        Mistake(
            "transposed",
            "your tensor is (d_model, num_positions): transpose it",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe.T
""",
        ),
        Mistake(
            "base_1000",
            "your wavelengths use 1000 instead of 10000",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 1000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
        Mistake(
            "multiplied",
            "you multiply the position by 10000^(2i/d_model); divide by it (the wavelengths grow column by column)",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos * 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
        Mistake(
            "integer_exponent",
            "your exponent uses integer division: 2i // d_model is 0, so every column has the same frequency; divide "
            "with /",
            """
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / 10000 ** ((i - i % 2) // d_model)
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe
""",
        ),
        Mistake(
            "precedence",
            "10000 ** two_i / d_model is (10000 ** two_i) / d_model: the exponent needs parentheses, 10000 ** (two_i "
            "/ d_model)",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angles = pos / (10000 ** two_i / d_model)
    pe = torch.zeros(num_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
        Mistake(
            "odd_last_column_zero",
            "when d_model is odd your last column stays 0: it is a sine (an odd d_model has one more sine than cosine)",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model - 1, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0:2 * angles.shape[1]:2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
        Mistake(
            "odd_cosines_too_many",
            "for an odd d_model there is one cosine column fewer than sines: keep cos(angles)[:, :d_model // 2]",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe
""",
        ),
        Mistake(
            "integer_tensor",
            "your tensor holds integers (zeros_like of an integer arange): every sine and cosine is truncated; make "
            "it a float tensor",
            """
import torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions)[:, None]
    two_i = torch.arange(0, d_model, 2)
    angles = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros_like(pos).repeat(1, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
""",
        ),
    ),
)


# ---------------------------------------------------------------- exercise 5: attention


def _attention_expected(q, k, v, mask):
    """PyTorch's attention in float64; a query with no allowed key gets zero weights and output."""
    q64, k64, v64 = q.double(), k.double(), v.double()
    scores = q64 @ k64.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is None:
        return F.scaled_dot_product_attention(q64, k64, v64), torch.softmax(scores, dim=-1)
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1).nan_to_num(0.0)
    has_key = mask.any(-1, keepdim=True)
    output = F.scaled_dot_product_attention(q64, k64, v64, attn_mask=mask | ~has_key) * has_key
    return output, weights


def _attention_case(sub, q, k, v, mask, visible, dtype=torch.float32) -> Case:
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    out, w = _attention_expected(q, k, v, mask)
    w = w.expand(torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + w.shape[-2:])
    label = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}, {str(dtype).removeprefix('torch.')}"
    label += f", mask {tuple(mask.shape)}" if mask is not None else ", no mask"
    return Case(sub, (q, k, v, mask), to_plain((out.to(dtype), w.to(dtype))), label, visible)


def _qkv(seed, batch, Tq, Tk, d, dv) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = seeded(seed)
    return (
        torch.randn(*batch, Tq, d, generator=g) * 2,
        torch.randn(*batch, Tk, d, generator=g) * 2,
        torch.randn(*batch, Tk, dv, generator=g),
    )


def _random_mask(seed, shape):
    mask = torch.rand(*shape, generator=seeded(seed)) > 0.5
    mask[..., 0] = True  # every query may see at least one key
    return mask


def _attention_cases(hidden: bool) -> list[Case]:
    cases = [
        _attention_case("values", *_qkv(0, (), 3, 3, 4, 2), None, True),
        _attention_case("values", *_qkv(1, (), 4, 6, 8, 3), None, True),
        _attention_case("batch", *_qkv(2, (2,), 4, 6, 8, 3), None, True),
        _attention_case("batch", *_qkv(3, (2, 3), 2, 5, 4, 4), None, True),
        _attention_case("mask", *_qkv(4, (), 3, 3, 4, 2), torch.ones(3, 3, dtype=torch.bool).tril(), True),
        _attention_case("mask", *_qkv(5, (2,), 4, 5, 8, 3), _random_mask(5, (2, 4, 5)), True),
        _attention_case(
            "masked_row",
            *_qkv(6, (2,), 4, 5, 8, 3),
            torch.ones(4, 5, dtype=torch.bool).index_fill(0, torch.tensor([2]), False),
            True,
        ),
        _attention_case("dtype", *_qkv(7, (2,), 3, 4, 8, 3), None, True, torch.float64),
    ]
    if hidden:
        shapes = [((), 1, 1, 1, 1), ((3,), 5, 5, 8, 8), ((2, 3), 4, 7, 16, 5), ((2, 1, 3), 6, 2, 4, 9)]
        for n, (batch, Tq, Tk, d, dv) in enumerate(shapes):
            q, k, v = _qkv(100 + n, batch, Tq, Tk, d, dv)
            mask = _random_mask(200 + n, (*batch, Tq, Tk))
            cases += [
                _attention_case("values" if not batch else "batch", q, k, v, None, False),
                _attention_case("values" if not batch else "batch", q, k, v, None, False, torch.bfloat16),
                _attention_case("mask", q, k, v, mask, False),
                _attention_case("mask", q, k, v, mask[(0,) * len(batch)], False),  # (Tq, Tk), broadcast
                _attention_case("mask", q, k, v, mask, False, torch.float64),
            ]
        # the dtype requirement judges the dtypes alone, on inputs of the visible case's rank (one
        # batch dimension): other ranks are the batch requirement's
        for n, (Tq, Tk, d, dv) in enumerate([(1, 1, 1, 1), (5, 5, 8, 8), (4, 7, 16, 5)]):
            q, k, v = _qkv(300 + n, (2,), Tq, Tk, d, dv)
            cases += [
                _attention_case("dtype", q, k, v, None, False, dtype) for dtype in (torch.float64, torch.bfloat16)
            ]
        q, k, v = _qkv(9, (3,), 6, 4, 8, 2)
        rows = torch.ones(3, 6, 4, dtype=torch.bool)
        rows[0, 1], rows[2, 5] = False, False
        cases.append(_attention_case("masked_row", q, k, v, rows, False))
    return cases


def _attention_compare(case: Case, got: Any, expected: Any) -> None:
    out, weights = items_of(got, "scaled_dot_product_attention", 2)
    out_e, weights_e = expected["tuple"]
    name = out_e["tensor"]["dtype"]  # the dtype of the inputs
    if case.subcheck == "dtype":  # the dtypes alone: the values are the other requirements'
        for what, t in (("attention weights", weights), ("attention output", out)):
            if not (isinstance(t, dict) and "tensor" in t):
                raise GradingError(f"{what} for {case.label}: expected a torch.Tensor, got {kind_of(t)}")
            if t["tensor"]["kind"] != "torch.Tensor":
                raise GradingError(
                    f"{what} for {case.label}: expected a plain torch.Tensor, got a {t['tensor']['kind']}"
                )
            if t["tensor"]["dtype"] != name:
                raise GradingError(
                    f"{what} for {case.label}: expected dtype torch.{name}, got torch.{t['tensor']['dtype']} "
                    "(return the dtype of the inputs)"
                )
        return
    # the values, to the precision of float32 at least (a result's dtype is the dtype requirement's)
    tol = (2e-2, 2e-2) if name == "bfloat16" else (1e-5, 1e-4)
    expect_tensor(weights, weights_e, what="attention weights", context=case.label, atol=tol[0], rtol=tol[1])
    expect_tensor(out, out_e, what="attention output", context=case.label, atol=tol[0], rtol=tol[1])


def _sdpa_mistake(body: str) -> str:
    return "import math, torch\ndef scaled_dot_product_attention(q, k, v, mask=None):\n" + body


ATTENTION = Exercise(
    name="scaled_dot_product_attention",
    cell="attention",
    test_cell="attention_tests",
    points=4,
    subchecks=(
        SubCheck(
            "values",
            1.5,
            "weights = softmax(q k^T / sqrt(d)) over the keys and output = weights @ v, also when Tq != Tk and dv != d",
        ),
        SubCheck("batch", 0.5, "any number of leading batch dimensions (none, one or several)"),
        SubCheck(
            "mask", 1.0, "a boolean mask broadcastable to (..., Tq, Tk), True = may attend, applied before the softmax"
        ),
        SubCheck("masked_row", 0.5, "a query whose mask row is all False gets zero weights and a zero output"),
        SubCheck("dtype", 0.5, "output and weights in the dtype of the inputs (float32, float64, bfloat16)"),
    ),
    cases=_attention_cases,
    run=RUNNERS["attention"],
    compare=_attention_compare,
    forbidden=Forbidden(
        torch=FUSED_TORCH,
        aten=FUSED_ATEN,
        python=(
            f"{REFERENCE}:scaled_dot_product_attention",
            f"{REFERENCE}:MultiHeadAttention",
            "torch.nn:MultiheadAttention",
        ),
        names=("scaled_dot_product_attention", "multi_head_attention_forward", "MultiheadAttention", REFERENCE),
    ),
    mistakes=(
        Mistake(
            "no_scaling",
            "your weights equal softmax(q k^T) without the 1/sqrt(d) scaling",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "scale_by_d",
            "you divide the scores by d; divide by sqrt(d)",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / q.shape[-1]
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "softmax_wrong_axis",
            "your softmax runs over the queries (dim=-2); each query's weights must sum to one over the keys (dim=-1)",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-2).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "mask_after_softmax",
            "you apply the mask after the softmax, so the remaining weights no longer sum to one",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    w = torch.softmax(s, dim=-1)
    if mask is not None:
        w = w * mask
    return w @ v, w
"""),
        ),
        Mistake(
            "inverted_mask",
            "you read True as 'blocked'; in this course True means 'may attend'",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "nan_rows",
            "a fully masked row gives NaN (softmax of all -inf): make its weights zero",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1)
    return w @ v, w
"""),
        ),
        Mistake(
            "upcast",
            "you compute in float32 and return float32 whatever the input dtype",
            _sdpa_mistake("""
    q, k, v = q.float(), k.float(), v.float()
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "transpose_1_2",
            "k.transpose(1, 2) only works for 3-d inputs: transpose the last two dimensions (-2, -1)",
            _sdpa_mistake("""
    s = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "swapped_return",
            "you return (weights, output); the order is (output, weights)",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w, w @ v
"""),
        ),
        Mistake(
            "mask_fill_zero",
            "you set the masked scores to 0, which still gets weight (e^0 = 1): set them to -inf before the softmax",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, 0.0)
    w = torch.softmax(s, dim=-1)
    return w @ v, w
"""),
        ),
        Mistake(
            "large_negative",
            "a fully masked row gets equal weights: with -1e9 (not -inf) every score of that row is the same, so "
            "softmax spreads it evenly; give such a row zero weights",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, -1e9)
    w = torch.softmax(s, dim=-1)
    return w @ v, w
"""),
        ),
        Mistake(
            "additive_bool_mask",
            "you add the boolean mask to the scores (True = +1): a boolean mask selects, masked_fill(~mask, -inf)",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s + mask
    w = torch.softmax(s, dim=-1)
    return w @ v, w
"""),
        ),
        Mistake(
            "scale_by_dv",
            "you scale by sqrt(v.shape[-1]), the size of the values; d is the size of q and k, q.shape[-1]",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(v.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "scale_by_length",
            "you scale by sqrt(q.shape[-2]), the number of queries; d is the last dimension, q.shape[-1]",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-2])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "keys_times_queries",
            "you compute k q^T, (Tk, Tq); the scores are q k^T, one row per query (Tq, Tk)",
            _sdpa_mistake("""
    s = k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""),
        ),
        Mistake(
            "scores_times_v",
            "your output multiplies v by the scores; it is the weights (after the softmax) times v",
            _sdpa_mistake("""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return s.nan_to_num(0.0, neginf=0.0) @ v, w
"""),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 6: multi-head attention


def _mha_case(sub, E, H, B, Tq, Tk, bias, masking, seed, visible) -> Case:
    torch.manual_seed(seed)
    torch_mha = nn.MultiheadAttention(E, H, bias=bias, batch_first=True)
    with torch.no_grad():
        for p in torch_mha.parameters():
            p.normal_(0, 0.5)  # random biases too, so a dropped bias shows
    w_q, w_k, w_v = torch_mha.in_proj_weight.detach().chunk(3)
    b_q, b_k, b_v = torch_mha.in_proj_bias.detach().chunk(3) if bias else (None, None, None)
    weights = {
        "q_proj": (w_q, b_q),
        "k_proj": (w_k, b_k),
        "v_proj": (w_v, b_v),
        "out_proj": (torch_mha.out_proj.weight.detach(), torch_mha.out_proj.bias.detach() if bias else None),
    }
    g = seeded(seed)
    query = torch.randn(B, Tq, E, generator=g)
    key = query if masking == "causal" or Tq == Tk and sub == "self" else torch.randn(B, Tk, E, generator=g)
    mask, torch_mask = None, None
    if masking == "random":
        mask = torch.rand(B, 1, Tq, Tk, generator=g) > 0.4
        mask[..., 0] = True
        torch_mask = (~mask).expand(B, H, Tq, Tk).reshape(B * H, Tq, Tk)
    elif masking == "causal":
        mask = torch.ones(Tq, Tq, dtype=torch.bool).tril()
        torch_mask = ~mask
    inputs = {
        "E": E,
        "H": H,
        "bias": bias,
        "weights": weights,
        "query": query,
        "key": key,
        "mask": mask,
        "layers_only": sub == "layers",
    }
    label = f"E={E}, num_heads={H}, bias={bias}, query {tuple(query.shape)}, key/value {tuple(key.shape)}"
    label += f", mask {tuple(mask.shape)}" if mask is not None else ", no mask"
    if sub == "layers":
        expected = {name: [[E, E], bias] for name in PROJECTIONS}
        return Case(sub, inputs, to_plain(expected), label, visible)
    with torch.no_grad():
        out, w = torch_mha(query, key, key, attn_mask=torch_mask, average_attn_weights=False)
    return Case(sub, inputs, to_plain((out, w)), label, visible)


def _mha_cases(hidden: bool) -> list[Case]:
    cases = [
        _mha_case("layers", 8, 2, 1, 3, 3, True, None, 0, True),
        _mha_case("layers", 12, 3, 1, 3, 3, False, None, 1, True),
        _mha_case("self", 8, 2, 2, 3, 3, True, None, 2, True),
        _mha_case("self", 12, 3, 1, 4, 4, False, None, 6, True),  # bias=False: no bias may be added
        _mha_case("cross", 8, 2, 2, 3, 5, True, None, 3, True),
        _mha_case("mask", 8, 2, 2, 4, 4, True, "causal", 4, True),
        _mha_case("mask", 8, 2, 2, 3, 5, True, "random", 5, True),
    ]
    if hidden:
        configs = [(8, 1, 2, 4, 4, True), (16, 4, 2, 5, 7, True), (24, 3, 3, 6, 6, False), (32, 8, 1, 9, 2, True)]
        for n, (E, H, B, Tq, Tk, bias) in enumerate(configs):
            cases += [
                _mha_case("layers", E, H, B, Tq, Tk, bias, None, 10 + n, False),
                _mha_case("self", E, H, B, Tq, Tq, bias, None, 20 + n, False),
                _mha_case("cross", E, H, B, Tq, Tk, bias, None, 30 + n, False),
                _mha_case("mask", E, H, B, Tq, Tk, bias, "random", 40 + n, False),
                _mha_case("mask", E, H, B, Tq, Tq, bias, "causal", 50 + n, False),
            ]
    return cases


def _mha_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "layers":
        have = {k: v for k, v in got.get("dict", {}).items()} if isinstance(got, dict) else {}
        E, bias = case.inputs["E"], case.inputs["bias"]
        for name in PROJECTIONS:
            found = have.get(name)
            layer = found.get("list") if isinstance(found, dict) else None
            if layer is None:
                raise GradingError(
                    f"MultiHeadAttention({E}, {case.inputs['H']}, bias={bias}) needs an nn.Linear named {name}; none "
                    "found"
                )
            shape, has_bias = layer[0].get("list"), layer[1]
            if shape != [E, E] or has_bias != bias:
                raise GradingError(
                    f"{name} should be nn.Linear({E}, {E}, bias={bias}); got weight {tuple(shape)}, bias "
                    f"{'present' if has_bias else 'absent'}"
                )
        return
    out, weights = items_of(got, "MultiHeadAttention.forward", 2)
    out_e, weights_e = expected["tuple"]
    expect_tensor(weights, weights_e, what="attention weights (B, H, Tq, Tk)", context=case.label, atol=1e-5, rtol=1e-4)
    expect_tensor(out, out_e, what="multi-head output", context=case.label, atol=1e-5, rtol=1e-4)


_MHA_HEAD = """import math, torch
from torch import nn
class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query, key, value, mask=None):
        B, Tq, E = query.shape
"""
_SPLIT = "        split = lambda x: x.view(B, -1, self.num_heads, self.head_dim).transpose(1, 2)\n"

MULTI_HEAD_ATTENTION = Exercise(
    name="MultiHeadAttention",
    cell="multi_head_attention",
    test_cell="multi_head_attention_tests",
    points=4,
    subchecks=(
        SubCheck(
            "layers",
            1.0,
            "exactly four nn.Linear(embed_dim, embed_dim, bias=bias) named q_proj, k_proj, v_proj, out_proj",
        ),
        SubCheck(
            "self",
            1.5,
            "self-attention: output (B, Tq, E) and weights (B, H, Tq, Tk) equal torch.nn.MultiheadAttention's",
        ),
        SubCheck("cross", 0.5, "cross-attention: key and value of another length Tk"),
        SubCheck("mask", 1.0, "a boolean mask broadcastable to (B, H, Tq, Tk), True = may attend"),
    ),
    cases=_mha_cases,
    run=RUNNERS["multi_head_attention"],
    compare=_mha_compare,
    depends={"scaled_dot_product_attention": f"{REFERENCE}:scaled_dot_product_attention"},
    forbidden=Forbidden(
        torch=FUSED_TORCH,
        aten=FUSED_ATEN,
        python=(f"{REFERENCE}:MultiHeadAttention", "torch.nn:MultiheadAttention"),
        names=("MultiheadAttention", "multi_head_attention_forward", REFERENCE),
    ),
    mistakes=(
        Mistake(
            "no_out_proj",
            "you return the concatenated heads without the output projection out_proj",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return heads.transpose(1, 2).reshape(B, Tq, E), w
""",
        ),
        Mistake(
            "wrong_head_split",
            "your heads are split with reshape(B, H, T, d), which mixes positions and heads: use view(B, T, H, "
            "d).transpose(1, 2)",
            _MHA_HEAD
            + """
        split = lambda x: x.reshape(B, self.num_heads, -1, self.head_dim)
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "wrong_merge",
            "your heads are merged with reshape(B, Tq, E) before moving the head axis back: transpose(1, 2) first",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "scale_by_embed_dim",
            "your scores are divided by sqrt(embed_dim); each head's scores are divided by sqrt(head_dim)",
            _MHA_HEAD
            + _SPLIT
            + """
        q, k, v = split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value))
        s = q @ k.transpose(-2, -1) / math.sqrt(E)
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        w = s.softmax(-1)
        return self.out_proj((w @ v).transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "ignores_mask",
            "your forward ignores the mask",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value))
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "query_for_keys",
            "you project the query for the keys too: keys and values come from key and value",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(query)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "averaged_weights",
            "you average the weights over the heads (nn.MultiheadAttention's default, average_attn_weights=True): "
            "return them per head, (B, H, Tq, Tk)",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        out = self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E))
        return out, w.mean(dim=1)  # (B, Tq, Tk)
""",
        ),
        Mistake(
            "inverted_mask",
            "you invert the mask (nn.MultiheadAttention's attn_mask convention, True = blocked); here True = may "
            "attend",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)),
            split(self.k_proj(key)),
            split(self.v_proj(value)),
            None if mask is None else ~mask,
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "view_after_transpose",
            "view() after transpose(1, 2) fails (the tensor is not contiguous): merge the heads with reshape (or "
            ".contiguous().view)",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).view(B, Tq, E)), w
""",
        ),
        Mistake(
            "query_length_for_keys",
            "you split key and value into heads with the query's length Tq; they have their own length Tk: view(B, "
            "-1, H, d)",
            _MHA_HEAD
            + """
        split = lambda x: x.view(B, Tq, self.num_heads, self.head_dim).transpose(1, 2)
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "one_projection",
            "you project query, key and value with q_proj: each has its own layer, q_proj, k_proj and v_proj",
            _MHA_HEAD
            + _SPLIT
            + """
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.q_proj(key)), split(self.q_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
        Mistake(
            "no_scaling",
            "your scores are not divided by sqrt(head_dim) before the softmax",
            _MHA_HEAD
            + _SPLIT
            + """
        q, k, v = split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value))
        s = q @ k.transpose(-2, -1)
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        w = s.softmax(-1)
        return self.out_proj((w @ v).transpose(1, 2).reshape(B, Tq, E)), w
""",
        ),
    ),
)

EXERCISES: dict[str, Exercise] = {
    "train_bpe": TRAIN_BPE,
    "bpe_encode": BPE_ENCODE,
    "bpe_decode": BPE_DECODE,
    "positional_encoding": POSITIONAL_ENCODING,
    "attention": ATTENTION,
    "multi_head_attention": MULTI_HEAD_ATTENTION,
}


def check_train_bpe(fn, hidden: bool = False) -> None:
    """Exercise 1, against tokenizers' BpeTrainer. Visible: each requirement on a small text;
    hidden: more texts and vocabulary sizes."""
    check(TRAIN_BPE, fn, hidden)


def check_encode(fn, hidden: bool = False) -> None:
    """Exercise 2, against a tokenizers BPE with the same merges (merges the checks trained, not
    your train_bpe's). Hidden: more texts and merges."""
    check(BPE_ENCODE, fn, hidden)


def check_decode(fn, hidden: bool = False) -> None:
    """Exercise 3, against tokenizers' ByteLevel decoder (merges the checks trained). Hidden: more
    texts and invalid byte sequences."""
    check(BPE_DECODE, fn, hidden)


def check_positional_encoding(fn, hidden: bool = False) -> None:
    """Exercise 4. Visible: each requirement on small sizes; hidden: more sizes."""
    check(POSITIONAL_ENCODING, fn, hidden)


def check_attention(fn, hidden: bool = False) -> None:
    """Exercise 5. Visible: each requirement on small inputs; hidden: batch ranks, broadcast
    masks, float64 and bfloat16."""
    check(ATTENTION, fn, hidden)


def check_multi_head_attention(cls, hidden: bool = False) -> None:
    """Exercise 6, against ``nn.MultiheadAttention`` with the same weights; a correct attention
    stands in for your ``scaled_dot_product_attention`` while it runs."""
    check(MULTI_HEAD_ATTENTION, cls, hidden)
