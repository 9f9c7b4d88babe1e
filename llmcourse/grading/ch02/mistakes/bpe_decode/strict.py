"""decoding stops with UnicodeDecodeError on bytes that are not valid UTF-8 (ids can cut a character): decode with errors='replace'"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab


def decode(ids, merges):
    tokens = list(initial_vocab(())) + [left + right for left, right in merges]
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    data = b"".join(bytes(byte_of[c] for c in tokens[i]) for i in ids)
    return data.decode("utf-8")
