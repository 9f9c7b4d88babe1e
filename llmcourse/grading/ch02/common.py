"""What chapter 02's exercises share: the names of the reference modules and of the fused
attention kernels they may not call, and, for the three byte-level BPE exercises, the forbidden
calls, made-up corpora and the oracle, Hugging Face ``tokenizers`` (``BpeTrainer``, the ``BPE``
model and the ``ByteLevel`` decoder), built here on the grader's side; never ``llmcourse.bpe``,
which the student may read."""

from __future__ import annotations

import functools
import json
import random

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from llmcourse.grading.contract import Forbidden

REFERENCE = "llmcourse.attention"
FUSED_TORCH = ("torch.nn.functional.scaled_dot_product_attention", "torch.nn.functional.multi_head_attention_forward")
FUSED_ATEN = ("scaled_dot_product", "multi_head_attention")


# ---------------------------------------------------------------- byte-level BPE (exercises 1-3)

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


def bpe_corpus(seed: int, n_words: int) -> str:
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


def unicode_text(seed: int, length: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(_UNICODE_POOL) for _ in range(length))


def oracle_trained(text: str, vocab_size: int) -> Tokenizer:
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


def oracle_merges(tokenizer: Tokenizer) -> list[tuple[str, str]]:
    return [(left, right) for left, right in json.loads(tokenizer.to_str())["model"]["merges"]]


def short(text: str, n: int = 40) -> str:
    return repr(text[:n]) + ("..." if len(text) > n else "")


# encode and decode are graded with the oracle's merges (never the student's train_bpe), so that
# each exercise stands on its own.
@functools.cache
def trained(text: str, vocab_size: int) -> tuple[Tokenizer, tuple[tuple[str, str], ...]]:
    tokenizer = oracle_trained(text, vocab_size)
    return tokenizer, tuple(oracle_merges(tokenizer))
