"""Counts the pairs over every word as it occurs in the text (not each distinct word once, weighted
by its frequency), on token strings, and merges in place in each word's list."""

from llmcourse.bpe import initial_vocab, pretokenize


def train_bpe(text, vocab_size):
    ids = initial_vocab(())
    words = [list(w) for w in pretokenize(text)]
    merges = []
    while len(ids) < vocab_size:
        counts = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[a, b] = counts.get((a, b), 0) + 1
        if not counts:
            break
        ranked = sorted(counts, key=lambda ab: (-counts[ab], ids[ab[0]], ids[ab[1]]))
        a, b = ranked[0]
        merges.append((a, b))
        ids[a + b] = len(ids)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if w[i] == a and w[i + 1] == b:
                    w[i : i + 2] = [a + b]
                i += 1
    return merges
