"""Feeds each token's bytes to an incremental UTF-8 decoder, which keeps a character split across
tokens whole, instead of joining all the bytes and decoding once."""

import codecs
from llmcourse.bpe import bytes_to_unicode, initial_vocab


def decode(ids, merges):
    tokens = {i: t for t, i in initial_vocab(()).items()}
    tokens.update({256 + r: a + b for r, (a, b) in enumerate(merges)})
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces = [decoder.decode(bytes(byte_of[c] for c in tokens[i])) for i in ids]
    return "".join(pieces) + decoder.decode(b"", final=True)
