"""you decode the bytes as Latin-1: they are UTF-8"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab


def decode(ids, merges):
    tokens = list(initial_vocab(())) + [left + right for left, right in merges]
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    data = b"".join(bytes(byte_of[c] for c in tokens[i]) for i in ids)
    return data.decode("latin-1")
