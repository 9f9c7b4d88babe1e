"""your merged tokens are numbered from 0: the merge of rank r is token 256 + r"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab


def decode(ids, merges):
    tokens = list(initial_vocab(())) + [left + right for left, right in merges]
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    table = dict(enumerate(tokens[:256]))
    table.update({rank: left + right for rank, (left, right) in enumerate(merges)})
    data = b"".join(bytes(byte_of[c] for c in table[i]) for i in ids)
    return data.decode("utf-8", errors="replace")
