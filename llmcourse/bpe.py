"""Byte-level BPE tokenization (chapter on tokenizers), written twice.

* :class:`ByteLevelBPE` is the teaching implementation: plain Python, meant to be read.
  It trains GPT-2-style byte-level BPE and encodes/decodes with the learned merges.
* :func:`train_fast` trains the same thing with the Rust ``tokenizers`` library. This is
  the path the course uses to train real tokenizers (and :func:`to_hf` wraps the result for
  ``transformers``); the teaching trainer is slower, and its ``encode`` much slower.

The two are made to agree exactly: same merges in the same order, same token ids and the
same encodings. To get there the teaching trainer copies three choices of the
``tokenizers`` ``BpeTrainer`` (see :meth:`ByteLevelBPE.train`): how ids are assigned, how ties
between equally frequent pairs are broken, and when training stops.

Pipeline, for both:

1. Special tokens (``<|endoftext|>``) are cut out of the text first; they get their own ids
   and are never split or merged.
2. The rest is split into "words" with the GPT-2 regular expression (so merges never cross
   a word boundary such as ``" the"`` | ``" cat"``).
3. Each word is turned into UTF-8 bytes, and each byte is shown as one printable character
   (GPT-2's ``bytes_to_unicode`` table, e.g. a space becomes ``"Ġ"``). The 256 byte
   characters are the initial vocabulary, so any text can be encoded: there is no
   unknown token.
4. Training repeatedly merges the most frequent adjacent pair of tokens into a new token.

Caveat: the teaching code splits words with the ``regex`` module and ``tokenizers`` with the
Oniguruma engine. They agree on every character except those added in the newest Unicode
version that one of them knows and the other does not yet (with the versions pinned in
``requirements.txt``: Unicode 17 for ``regex``, 16 for ``tokenizers``); text with such
characters can be split differently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import regex
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

END_OF_TEXT = "<|endoftext|>"

# GPT-2's pre-tokenizer: contractions, optional space + letters, optional space + digits,
# optional space + other symbols, then whitespace (a run of spaces before a word keeps its
# last space for that word: "a   b" -> "a", "  ", " b").
GPT2_SPLIT_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from each of the 256 byte values to one printable character.

    Printable Latin-1 bytes stand for themselves; the others (control characters, space,
    ...) are shifted to code points 256 and up, in byte order. So the space byte 0x20 is
    shown as ``"Ġ"`` (U+0120) and newline 0x0A as ``"Ċ"``.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {byte: chr(byte) for byte in printable}
    shifted = 256
    for byte in range(256):
        if byte not in table:
            table[byte] = chr(shifted)
            shifted += 1
    return table


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {char: byte for byte, char in BYTE_TO_CHAR.items()}


def pretokenize(text: str) -> list[str]:
    """Split ``text`` into GPT-2 words, each written in the byte alphabet.

    >>> pretokenize("Hello world!")
    ['Hello', 'Ġworld', '!']
    """
    return ["".join(BYTE_TO_CHAR[b] for b in word.encode("utf-8")) for word in GPT2_SPLIT_PATTERN.findall(text)]


def split_special_tokens(text: str, special_tokens: Sequence[str]) -> list[str]:
    """Cut ``text`` at special tokens: ordinary pieces and special tokens, in order.

    >>> split_special_tokens("a<|endoftext|>b", ["<|endoftext|>"])
    ['a', '<|endoftext|>', 'b']
    """
    if not special_tokens:
        return [text] if text else []
    # Longest first, so that a special token that contains another one wins.
    alternatives = "|".join(regex.escape(token) for token in sorted(special_tokens, key=len, reverse=True))
    return [piece for piece in regex.split(f"({alternatives})", text) if piece]


def initial_vocab(special_tokens: Sequence[str]) -> dict[str, int]:
    """Token -> id before any merge, numbered the way ``tokenizers``' ``BpeTrainer`` does:
    the special tokens first (in the given order), then the 256 byte characters sorted by
    code point."""
    vocab: dict[str, int] = {}
    for token in [*special_tokens, *sorted(BYTE_TO_CHAR.values())]:
        vocab.setdefault(token, len(vocab))
    return vocab


def _as_texts(texts: str | Iterable[str]) -> Iterable[str]:
    """Accept one string as a corpus of one text (iterating a ``str`` would give characters)."""
    return [texts] if isinstance(texts, str) else texts


def _check_settings(vocab_size: int, special_tokens: Sequence[str]) -> None:
    if any(not token for token in special_tokens) or len(set(special_tokens)) != len(special_tokens):
        raise ValueError(f"special tokens must be distinct non-empty strings, got {list(special_tokens)}")
    smallest = len(initial_vocab(special_tokens))
    if vocab_size < smallest:
        raise ValueError(
            f"vocab_size={vocab_size} is too small: the 256 byte tokens and "
            f"{len(special_tokens)} special token(s) alone need {smallest}"
        )


def _ordinary_pieces(texts: str | Iterable[str], special_tokens: Sequence[str]) -> list[str]:
    """The training text with special tokens cut out, as a list of pieces."""
    specials = set(special_tokens)
    pieces = [
        piece
        for text in _as_texts(texts)
        for piece in split_special_tokens(text, special_tokens)
        if piece not in specials
    ]
    if not pieces:
        raise ValueError("the training corpus is empty (no text outside special tokens)")
    return pieces


def _merge_pair(word: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``word``, scanning left to right."""
    merged: list[int] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            merged.append(new_id)
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return merged


class ByteLevelBPE:
    """A byte-level BPE tokenizer: special tokens plus an ordered list of merges.

    The vocabulary follows from those two: the special tokens, the 256 byte characters,
    then the result of each merge, in order (a merge whose result is already a token adds
    no new id).
    """

    def __init__(self, merges: Sequence[tuple[str, str]], special_tokens: Sequence[str] = (END_OF_TEXT,)) -> None:
        self.special_tokens = tuple(special_tokens)
        self.merges = [tuple(pair) for pair in merges]
        self.vocab = initial_vocab(self.special_tokens)
        for left, right in self.merges:
            self.vocab.setdefault(left + right, len(self.vocab))
        self.id_to_token = {i: token for token, i in self.vocab.items()}
        # (left id, right id) -> (rank, id of the merged token); a lower rank merges first.
        self.merge_ranks = {
            (self.vocab[left], self.vocab[right]): (rank, self.vocab[left + right])
            for rank, (left, right) in enumerate(self.merges)
        }
        self._word_cache: dict[str, list[int]] = {}

    @classmethod
    def train(
        cls,
        texts: str | Iterable[str],
        vocab_size: int,
        special_tokens: Sequence[str] = (END_OF_TEXT,),
        min_frequency: int = 0,
    ) -> ByteLevelBPE:
        """Learn merges until the vocabulary has ``vocab_size`` tokens.

        Rules copied from ``tokenizers``' ``BpeTrainer`` so that both give the same result:

        * ids: special tokens first, then the 256 byte characters by code point, then one
          new id per merge whose result is not already a token;
        * each step merges the pair with the highest count: the number of times the two
          tokens stand side by side, summed over words weighted by word frequency (so
          ``"aaa"`` counts ``("a", "a")`` twice, though only one merge fits); among pairs
          with the same count, the one with the smallest (left id, right id) wins;
        * training stops when the vocabulary has ``vocab_size`` tokens, when no pair is
          left, or when the best count is below ``min_frequency``.
        """
        special_tokens = tuple(special_tokens)
        _check_settings(vocab_size, special_tokens)
        vocab = initial_vocab(special_tokens)
        tokens = list(vocab)  # id -> token string

        # Count each distinct word once, with its frequency; merges never cross words.
        word_counts: dict[str, int] = {}
        for piece in _ordinary_pieces(texts, special_tokens):
            for word in pretokenize(piece):
                word_counts[word] = word_counts.get(word, 0) + 1
        words = [[vocab[char] for char in word] for word in word_counts]
        counts = list(word_counts.values())

        # pair_counts[pair] = weighted number of occurrences of the pair in all words;
        # words_with[pair] = indices of words that contain (or once contained) the pair.
        pair_counts: dict[tuple[int, int], int] = {}
        words_with: dict[tuple[int, int], set[int]] = {}

        def count_pairs(index: int, sign: int) -> None:
            """Add (sign=+1) or remove (sign=-1) the pairs of ``words[index]``."""
            word = words[index]
            for pair in zip(word, word[1:]):
                pair_counts[pair] = pair_counts.get(pair, 0) + sign * counts[index]
                if pair_counts[pair] == 0:
                    del pair_counts[pair]
                if sign > 0:
                    words_with.setdefault(pair, set()).add(index)

        for index in range(len(words)):
            count_pairs(index, +1)

        merges: list[tuple[str, str]] = []
        while len(vocab) < vocab_size and pair_counts:
            best_count = max(pair_counts.values())
            if best_count < min_frequency:
                break
            best = min(pair for pair, count in pair_counts.items() if count == best_count)
            left, right = tokens[best[0]], tokens[best[1]]
            merges.append((left, right))
            new_token = left + right
            if new_token not in vocab:
                vocab[new_token] = len(tokens)
                tokens.append(new_token)
            # Only the words containing the pair change: take their old pairs out of the
            # counts, merge, and put their new pairs in.
            for index in words_with.pop(best):
                count_pairs(index, -1)
                words[index] = _merge_pair(words[index], best, vocab[new_token])
                count_pairs(index, +1)
        return cls(merges, special_tokens)

    def _encode_word(self, word: str) -> list[int]:
        """Encode one pre-tokenized word: apply the lowest-ranked merge available (the
        leftmost one if it occurs twice), one at a time, until none applies."""
        if word not in self._word_cache:
            ids = [self.vocab[char] for char in word]
            while len(ids) > 1:
                candidates = [
                    (self.merge_ranks[pair], position)
                    for position, pair in enumerate(zip(ids, ids[1:]))
                    if pair in self.merge_ranks
                ]
                if not candidates:
                    break
                (_, new_id), position = min(candidates)
                ids[position : position + 2] = [new_id]
            self._word_cache[word] = ids
        return self._word_cache[word]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; special tokens in it become their single id."""
        ids: list[int] = []
        for piece in split_special_tokens(text, self.special_tokens):
            if piece in self.special_tokens:
                ids.append(self.vocab[piece])
            else:
                for word in pretokenize(piece):
                    ids.extend(self._encode_word(word))
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; byte sequences that are not valid UTF-8 become U+FFFD."""
        data = bytearray()
        for i in ids:
            token = self.id_to_token[i]
            if token in self.special_tokens:
                data += token.encode("utf-8")
            else:
                data += bytes(CHAR_TO_BYTE[char] for char in token)
        return data.decode("utf-8", errors="replace")

    def to_tokenizers(self) -> Tokenizer:
        """The same tokenizer as a fast ``tokenizers.Tokenizer``."""
        tokenizer = _byte_level_tokenizer(models.BPE(vocab=self.vocab, merges=self.merges))
        tokenizer.add_special_tokens(list(self.special_tokens))
        return tokenizer


def _byte_level_tokenizer(model: models.BPE) -> Tokenizer:
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def train_fast(
    texts: str | Iterable[str],
    vocab_size: int,
    special_tokens: Sequence[str] = (END_OF_TEXT,),
    min_frequency: int = 0,
) -> Tokenizer:
    """Train byte-level BPE with the ``tokenizers`` library (same result as
    :meth:`ByteLevelBPE.train`, much faster)."""
    special_tokens = tuple(special_tokens)
    _check_settings(vocab_size, special_tokens)
    pieces = _ordinary_pieces(texts, special_tokens)
    tokenizer = _byte_level_tokenizer(models.BPE())
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(pieces, trainer=trainer)
    return tokenizer


def merges_of(tokenizer: Tokenizer) -> list[tuple[str, str]]:
    """The merges of a BPE ``tokenizers.Tokenizer``, in rank order."""
    return [tuple(pair) for pair in json.loads(tokenizer.to_str())["model"]["merges"]]


def to_hf(
    tokenizer: Tokenizer, special_token: str = END_OF_TEXT, model_max_length: int | None = None
) -> PreTrainedTokenizerFast:
    """Wrap ``tokenizer`` for ``transformers``, with ``special_token`` as bos, eos, unk and pad.

    ``save_pretrained(directory)`` writes ``tokenizer.json``, which
    ``AutoTokenizer.from_pretrained(directory)`` loads back.
    """
    extra = {} if model_max_length is None else {"model_max_length": model_max_length}
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=special_token,
        eos_token=special_token,
        unk_token=special_token,
        pad_token=special_token,
        clean_up_tokenization_spaces=False,
        **extra,
    )
