"""you map each character, not each UTF-8 byte, to a byte token: 'é' is two bytes, 'Ã©' in the byte alphabet, and '日' three"""

import regex
from llmcourse.bpe import bytes_to_unicode, initial_vocab, pretokenize


def encode(text, merges):
    vocab = initial_vocab(())
    for left, right in merges:
        vocab[left + right] = len(vocab)
    ranks = {(vocab[left], vocab[right]): rank for rank, (left, right) in enumerate(merges)}
    ids = []
    for word in regex.findall(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""", text):
        word_ids = [vocab[bytes_to_unicode()[ord(c) % 256]] for c in word]
        while True:
            found = [(ranks[pair], i) for i, pair in enumerate(zip(word_ids, word_ids[1:])) if pair in ranks]
            if not found:
                break
            rank, i = min(found)
            left, right = merges[rank]
            word_ids[i : i + 2] = [vocab[left + right]]
        ids.extend(word_ids)
    return ids
