"""Builds a table of each token's bytes (a merged token's as its two parts' bytes joined) and joins
the ids' entries, instead of mapping each character of each token back to its byte."""

from llmcourse.bpe import bytes_to_unicode, initial_vocab


def decode(ids, merges):
    # the bytes of every token, a merged token's as its two parts' bytes joined
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    vocab = initial_vocab(())
    table = [bytes([byte_of[c]]) for c in vocab]
    for a, b in merges:
        vocab[a + b] = len(table)
        table.append(table[vocab[a]] + table[vocab[b]])
    data = bytearray()
    for i in ids:
        data.extend(table[i])
    return data.decode("utf-8", "replace")
