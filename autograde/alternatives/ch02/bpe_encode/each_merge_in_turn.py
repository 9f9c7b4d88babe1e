"""Applies the merges one after another in rank order, each at every place in the word, on token
strings, instead of looking for the lowest-rank pair present again after each merge."""

from llmcourse.bpe import initial_vocab, pretokenize


def encode(text, merges):
    vocab = initial_vocab(())
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    ids = []
    for word in pretokenize(text):
        parts = list(word)
        for a, b in merges:
            if len(parts) < 2:
                break
            out, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        ids.extend(vocab[p] for p in parts)
    return ids
