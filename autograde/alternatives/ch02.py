"""The valid alternatives of chapter 02_transformer_anatomy's graded exercises (``llmcourse.grading.ch02``):
complete correct answers written differently from the solution, by the exercise's key in that
chapter's ``EXERCISES``.

The mutation suite (``make mutants``) grades each one and requires full marks; the class report
flags answers that are near-copies of them (``llmcourse.grading.similarity.course_code``); the
tests use them as known good answers. They live here, on the instructor's side, and not in
``llmcourse/grading/ch02.py``: that module is what the student's notebook imports, and
``autograde/`` is not part of the installed package. Read with
``llmcourse.grading.alternatives.alternatives_of`` (parsed, never run).
"""

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "train_bpe": (
        # incremental: only the words that hold the merged pair are recounted
        r'''
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
''',
        # every word occurrence kept (no counting of distinct words), tokens as strings, ties by sorting
        r'''
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
''',
    ),
    "bpe_encode": (
        # one pass per merge, in rank order, over the whole word: the same result, since a merge's
        # token only takes part in merges of higher rank
        r'''
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
''',
        # GPT-2's encoder.py: find the best-ranked bigram, merge all its occurrences, repeat
        r'''
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
''',
    ),
    "bpe_decode": (
        r'''
from llmcourse.bpe import bytes_to_unicode, initial_vocab
def decode(ids, merges):
    # the bytes of every token, a merged token's as its two parts' bytes joined
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    vocab = initial_vocab(())
    table = [bytes([byte_of[c]]) for c in vocab]
    for a, b in merges:
        vocab[a + b] = len(table)
        table.append(table[vocab[a]] + table[vocab[b]])
    data = bytearray()
    for i in ids:
        data.extend(table[i])
    return data.decode("utf-8", "replace")
''',
        r'''
import codecs
from llmcourse.bpe import bytes_to_unicode, initial_vocab
def decode(ids, merges):
    tokens = {i: t for t, i in initial_vocab(()).items()}
    tokens.update({256 + r: a + b for r, (a, b) in enumerate(merges)})
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces = [decoder.decode(bytes(byte_of[c] for c in tokens[i])) for i in ids]
    return "".join(pieces) + decoder.decode(b"", final=True)
''',
    ),
    "positional_encoding": (
        r'''
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / (10000 ** ((i - i % 2) / d_model))
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe
''',
        r'''
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angles = pos * torch.exp(-two_i * math.log(10000) / d_model)
    pe = torch.empty(num_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = angles.sin()
    pe[:, 1::2] = angles.cos()[:, : d_model // 2]
    return pe
''',
    ),
    "attention": (
        r'''import math, torch
def scaled_dot_product_attention(q, k, v, mask=None):

    scores = torch.einsum("...qd,...kd->...qk", q, k) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return torch.einsum("...qk,...kv->...qv", weights, v), weights
''',
        r'''import math, torch
def scaled_dot_product_attention(q, k, v, mask=None):

    scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(k.size(-1)))
    exp = torch.exp(scores - scores.amax(-1, keepdim=True))
    if mask is not None:
        exp = torch.where(mask, exp, torch.zeros_like(exp))
    total = exp.sum(-1, keepdim=True)
    weights = exp / torch.where(total == 0, torch.ones_like(total), total)
    return weights @ v, weights
''',
        r'''import math, torch
def scaled_dot_product_attention(q, k, v, mask=None):

    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    Tq, Tk = q.shape[-2], k.shape[-2]
    qf = q.expand(*batch, *q.shape[-2:]).reshape(-1, Tq, q.shape[-1])
    kf = k.expand(*batch, *k.shape[-2:]).reshape(-1, Tk, k.shape[-1])
    vf = v.expand(*batch, *v.shape[-2:]).reshape(-1, Tk, v.shape[-1])
    mf = None if mask is None else mask.expand(*batch, Tq, Tk).reshape(-1, Tq, Tk)
    outs, ws = [], []
    for b in range(qf.shape[0]):
        w = torch.zeros(Tq, Tk, dtype=q.dtype)
        for i in range(Tq):
            s = kf[b] @ qf[b, i] / math.sqrt(q.shape[-1])
            allowed = torch.ones(Tk, dtype=torch.bool) if mf is None else mf[b, i]
            if allowed.any():
                w[i, allowed] = torch.softmax(s[allowed], dim=0)
        ws.append(w)
        outs.append(w @ vf[b])
    return torch.stack(outs).reshape(*batch, Tq, -1), torch.stack(ws).reshape(*batch, Tq, Tk)
''',
    ),
    "multi_head_attention": (
        r'''import math, torch
from torch import nn
class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query, key, value, mask=None):
        B, Tq, E = query.shape

        H = self.num_heads
        q = self.q_proj(query).unflatten(-1, (H, -1))  # (B, Tq, H, d)
        k = self.k_proj(key).unflatten(-1, (H, -1))
        v = self.v_proj(value).unflatten(-1, (H, -1))
        s = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        w = s.softmax(-1)
        return self.out_proj(torch.einsum("bhqk,bkhd->bqhd", w, v).reshape(B, Tq, E)), w
''',
        r'''import math, torch
from torch import nn
class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query, key, value, mask=None):
        B, Tq, E = query.shape
        split = lambda x: x.view(B, -1, self.num_heads, self.head_dim).transpose(1, 2)

        heads, w = scaled_dot_product_attention(split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask)
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
''',
    ),
}
