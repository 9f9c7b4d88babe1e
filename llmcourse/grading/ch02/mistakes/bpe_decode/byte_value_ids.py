"""you read ids below 256 as byte values; the byte tokens are numbered in the order of initial_vocab(()) ('!' is 0, 'Ġ' is 220)"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab


def decode(ids, merges):
    tokens = list(initial_vocab(())) + [left + right for left, right in merges]
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    data = b"".join((bytes([i]) if i < 256 else bytes(byte_of[c] for c in tokens[i])) for i in ids)
    return data.decode("utf-8", errors="replace")
