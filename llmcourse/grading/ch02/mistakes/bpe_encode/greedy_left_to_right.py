"""you merge the leftmost pair that has a merge; apply the merge of lowest rank first, wherever it is"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab, pretokenize


def encode(text, merges):
    vocab = initial_vocab(())
    for left, right in merges:
        vocab[left + right] = len(vocab)
    ranks = {(vocab[left], vocab[right]): rank for rank, (left, right) in enumerate(merges)}
    ids = []
    for word in pretokenize(text):
        word_ids = [vocab[c] for c in word]
        i = 0
        while i < len(word_ids) - 1:
            pair = (word_ids[i], word_ids[i + 1])
            if pair in ranks:
                left, right = merges[ranks[pair]]
                word_ids[i : i + 2] = [vocab[left + right]]
                i = 0
            else:
                i += 1
        ids.extend(word_ids)
    return ids
