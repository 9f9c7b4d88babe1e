"""you go over the word once, merging pairs as you meet them; repeat with the lowest rank each time until no merge applies"""

from llmcourse.bpe import bytes_to_unicode, initial_vocab, pretokenize


def encode(text, merges):
    vocab = initial_vocab(())
    for left, right in merges:
        vocab[left + right] = len(vocab)
    ranks = {(vocab[left], vocab[right]): rank for rank, (left, right) in enumerate(merges)}
    ids = []
    for word in pretokenize(text):
        word_ids = [vocab[c] for c in word]
        for rank in sorted({ranks[p] for p in zip(word_ids, word_ids[1:]) if p in ranks})[:1]:
            left, right = merges[rank]
            i, out = 0, []
            while i < len(word_ids):
                if i + 1 < len(word_ids) and (word_ids[i], word_ids[i + 1]) == (vocab[left], vocab[right]):
                    out.append(vocab[left + right])
                    i += 2
                else:
                    out.append(word_ids[i])
                    i += 1
            word_ids = out
        ids.extend(word_ids)
    return ids
