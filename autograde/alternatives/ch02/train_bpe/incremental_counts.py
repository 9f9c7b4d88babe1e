"""Keeps the pair counts between merges and updates them only in the words that hold the merged
pair, instead of counting every pair again at each step."""

from collections import Counter, defaultdict
from llmcourse.bpe import initial_vocab, pretokenize


def train_bpe(text, vocab_size):
    vocab = initial_vocab(())
    tokens = list(vocab)
    counted = Counter(pretokenize(text))
    words = [[vocab[c] for c in w] for w in counted]
    freq = list(counted.values())
    pairs = Counter()
    where = defaultdict(set)
    for k, w in enumerate(words):
        for p in zip(w, w[1:]):
            pairs[p] += freq[k]
            where[p].add(k)
    merges = []
    while len(tokens) < vocab_size:
        pairs = +pairs  # drop zero counts
        if not pairs:
            break
        top = max(pairs.values())
        best = min(p for p, n in pairs.items() if n == top)
        merges.append((tokens[best[0]], tokens[best[1]]))
        new = len(tokens)
        tokens.append(tokens[best[0]] + tokens[best[1]])
        for k in where.pop(best, ()):
            w = words[k]
            for p in zip(w, w[1:]):
                pairs[p] -= freq[k]
            out, i = [], 0
            while i < len(w):
                if w[i : i + 2] == list(best):
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[k] = out
            for p in zip(out, out[1:]):
                pairs[p] += freq[k]
                where[p].add(k)
    return merges
