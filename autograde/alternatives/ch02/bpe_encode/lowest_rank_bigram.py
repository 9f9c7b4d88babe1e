"""Merges every occurrence of the lowest-rank pair at once, on token strings, as GPT-2's encoder.py
does, and numbers the byte tokens by sorting the byte alphabet instead of with
initial_vocab(())."""

from llmcourse.bpe import bytes_to_unicode, pretokenize


def encode(text, merges):
    alphabet = sorted(bytes_to_unicode().values())
    token_id = {c: i for i, c in enumerate(alphabet)}
    token_id.update({a + b: 256 + r for r, (a, b) in enumerate(merges)})
    rank = {pair: r for r, pair in enumerate(merges)}
    ids = []
    for word in pretokenize(text):
        parts = list(word)
        while len(parts) > 1:
            bigram = min(zip(parts, parts[1:]), key=lambda pair: rank.get(pair, float("inf")))
            if bigram not in rank:
                break
            merged, i = [], 0
            while i < len(parts):
                if parts[i : i + 2] == list(bigram):
                    merged.append(bigram[0] + bigram[1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        ids += [token_id[p] for p in parts]
    return ids
