"""when the best pair occurs twice in a word ("aaa"), you merge its rightmost place first: merge the leftmost"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab, pretokenize


def encode(text, merges):
    vocab = initial_vocab(())
    for left, right in merges:
        vocab[left + right] = len(vocab)
    ranks = {(vocab[left], vocab[right]): rank for rank, (left, right) in enumerate(merges)}
    ids = []
    for word in pretokenize(text):
        word_ids = [vocab[c] for c in word]
        while True:
            found = [(ranks[pair], i) for i, pair in enumerate(zip(word_ids, word_ids[1:])) if pair in ranks]
            if not found:
                break
            rank, i = min(found, key=lambda f: (f[0], -f[1]))
            left, right = merges[rank]
            word_ids[i : i + 2] = [vocab[left + right]]
        ids.extend(word_ids)
    return ids
