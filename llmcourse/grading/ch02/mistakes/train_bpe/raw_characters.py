"""you merge the text's characters, not its UTF-8 bytes in the byte alphabet (a space is 'Ġ', 'é' is two bytes 'Ã©'): use pretokenize's words"""

import regex
from collections import Counter
from llmcourse.bpe import bytes_to_unicode, initial_vocab, pretokenize


def train_bpe(text, vocab_size):
    vocab = initial_vocab(())
    tokens = list(vocab)
    words = Counter(
        tuple(vocab.setdefault(c, len(vocab)) for c in w)
        for w in regex.findall(r""" ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""", text)
    )
    tokens = list(vocab)
    merges = []
    while len(tokens) < vocab_size:
        counts = Counter()
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                counts[pair] += n
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        left, right = tokens[best[0]], tokens[best[1]]
        merges.append((left, right))
        vocab[left + right] = len(tokens)
        tokens.append(left + right)
        words = {tuple(merge(list(w), best, vocab[left + right])): n for w, n in words.items()}
    return merges


def merge(word, pair, new_id):
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out
