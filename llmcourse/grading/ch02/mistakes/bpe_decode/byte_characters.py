"""you return the tokens' strings in the byte alphabet ('Ġthe'): map each character back to its byte and decode the bytes as UTF-8"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab


def decode(ids, merges):
    tokens = list(initial_vocab(())) + [left + right for left, right in merges]
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    return "".join(tokens[i] for i in ids)
