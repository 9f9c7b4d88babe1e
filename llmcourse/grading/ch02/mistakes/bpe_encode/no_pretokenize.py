"""you encode the whole text as one word: split it with pretokenize, as in training, so that no merge crosses a word boundary"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab, pretokenize


def encode(text, merges):
    vocab = initial_vocab(())
    for left, right in merges:
        vocab[left + right] = len(vocab)
    ranks = {(vocab[left], vocab[right]): rank for rank, (left, right) in enumerate(merges)}
    ids = []
    for word in ["".join(bytes_to_unicode()[b] for b in text.encode())][: len(text)]:
        word_ids = [vocab[c] for c in word]
        while True:
            found = [(ranks[pair], i) for i, pair in enumerate(zip(word_ids, word_ids[1:])) if pair in ranks]
            if not found:
                break
            rank, i = min(found)
            left, right = merges[rank]
            word_ids[i : i + 2] = [vocab[left + right]]
        ids.extend(word_ids)
    return ids
