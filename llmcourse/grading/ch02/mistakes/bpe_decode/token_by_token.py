"""you decode each token on its own: a character whose bytes are in two tokens becomes two U+FFFD; join the bytes of all tokens, then decode once"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab


def decode(ids, merges):
    tokens = list(initial_vocab(())) + [left + right for left, right in merges]
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    return "".join(bytes(byte_of[c] for c in tokens[i]).decode("utf-8", errors="replace") for i in ids)
