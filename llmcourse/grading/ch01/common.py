"""What chapter 01's two exercises share: random corpora, scikit-learn's answers, and the
comparisons of (matrix, vocabulary) results, which are NumPy arrays, not tensors."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from llmcourse.grading.contract import Case, GradingError, items_of, kind_of, to_plain, values_of
from llmcourse.grading.wire import known_tensor_meta, tensor_meta

REFERENCE = "llmcourse.text"
SKLEARN_TEXT = "sklearn.feature_extraction.text"
SKLEARN_PYTHON = tuple(
    f"{SKLEARN_TEXT}:{name}" for name in ("CountVectorizer", "TfidfVectorizer", "TfidfTransformer", "HashingVectorizer")
)
SKLEARN_NAMES = (
    "sklearn",
    "sklearn.feature_extraction",
    SKLEARN_TEXT,
    "sklearn.preprocessing",
    "CountVectorizer",
    "TfidfVectorizer",
    "TfidfTransformer",
    "HashingVectorizer",
    REFERENCE,
)


# ---------------------------------------------------------------- corpora

_ASCII_WORDS = (
    "the cat sat on mat dog ran after ball river bank money deposit water fish swam near muddy "
    "loan interest rate paid she he it we they was were is are be been had has have with from "
    "into over under small large quick brown lazy jumps language model word words count counts "
    "attention transformer sentence document table red green blue old new long short day night"
).split()
_SINGLE = ["a", "I", "x", "b", "A", "y"]
_PUNCT = [",", ".", "!", "?", ";", ":", " -", "(", ")", "'s", '"', "...", " --"]
# Unicode letters, digits and "_", in lower case (these corpora test which characters make tokens,
# not lower-casing). Left out: characters whose lower case is longer than they are ("İ", "ﬁ"), for
# which lower-casing before or after tokenising gives different tokens.
_UNICODE_WORDS = [
    "café",
    "naïve",
    "zürich",
    "façade",
    "ångström",
    "東京",
    "北京",
    "москва",
    "straße",
    "αθηνα",
    "año",
    "snake_case",
    "x2",
    "2024",
    "42",
    "3.14",
    "v1_2",
    "déjà-vu",
]


def _random_document(rng: random.Random, words: list[str], length: int, capitals: bool = True) -> str:
    pieces = []
    for _ in range(length):
        r = rng.random()
        if r < 0.08:
            pieces.append(rng.choice(_SINGLE))
        elif r < 0.18 and pieces:
            pieces[-1] += rng.choice(_PUNCT)
            continue
        word = rng.choice(words)
        shape = rng.random()
        if capitals:
            word = word.capitalize() if shape < 0.2 else word.upper() if shape < 0.27 else word
        pieces.append(word)
    return " ".join(pieces)


def corpus(seed: int, n_documents: int, max_length: int, *, unicode: bool = False, token_less: int = 0) -> list[str]:
    """A random corpus: words repeat (Zipf-like choice), random capitals, punctuation and
    one-letter words; ``unicode`` mixes in non-ASCII letters, digits and ``_`` (and leaves out
    the capitals, so that these corpora test which characters make tokens only); ``token_less``
    documents without any token (empty, punctuation, one-letter words) are spread among them."""
    rng = random.Random(seed)
    pool = list(_ASCII_WORDS)
    rng.shuffle(pool)
    pool = pool[: rng.randint(8, len(pool))]
    weighted = [w for rank, w in enumerate(pool) for _ in range(max(1, 12 // (rank + 1)))]
    if unicode:
        weighted += _UNICODE_WORDS * 2
    docs = [
        _random_document(rng, weighted, rng.randint(1, max_length), capitals=not unicode) for _ in range(n_documents)
    ]
    empties = ["", "   ", "!?", "a", "I x y", "... -- !", "a, b; c."]
    for _ in range(token_less):
        docs.insert(rng.randint(0, len(docs)), rng.choice(empties))
    return docs


def label(documents: list[str], seed: int | None = None) -> str:
    """The documents as Python, shortened for long corpora (the seed says which random one)."""
    text = repr(documents)
    if len(text) <= 160:
        return f"documents={text}"
    tokens = sum(len(d.split()) for d in documents)
    origin = f"random corpus (seed {seed})" if seed is not None else "a corpus"
    return f"{origin}: {len(documents)} documents, about {tokens} words, starting {documents[0][:50]!r}"


# ---------------------------------------------------------------- oracles (scikit-learn)


def oracle(vectorizer_class, documents: list[str]) -> Any:
    """scikit-learn's answer as plain data: (dense float64 matrix, vocabulary), or
    ``{"raised": "ValueError"}`` when it refuses the corpus (empty vocabulary)."""
    try:
        vectorizer = vectorizer_class()
        matrix = vectorizer.fit_transform(documents).toarray().astype(np.float64)
    except ValueError:
        return to_plain({"raised": "ValueError"})
    return to_plain((matrix, vectorizer.get_feature_names_out().tolist()))


def token_less(documents: list[str]) -> list[int]:
    """Indexes of the documents without any token, by scikit-learn's own analyzer."""
    analyze = CountVectorizer().build_analyzer()
    return [i for i, doc in enumerate(documents) if not analyze(doc)]


# ---------------------------------------------------------------- comparisons (grader side)


def _vocabulary_of(plain: Any) -> list[str] | None:
    items = plain.get("list", plain.get("tuple")) if isinstance(plain, dict) else None
    if items is None or not all(isinstance(t, str) for t in items):
        return None
    return items


def split(got: Any, what: str) -> tuple[Any, list[str]]:
    """The (matrix, vocabulary) an answer returned, or a GradingError saying what came back."""
    matrix, vocabulary = items_of(got, what, 2)
    if _vocabulary_of(vocabulary) is None and _vocabulary_of(matrix) is not None:
        raise GradingError(f"{what} returned (vocabulary, matrix): the order is (matrix, vocabulary)")
    terms = _vocabulary_of(vocabulary)
    if terms is None:
        raise GradingError(f"{what}: the vocabulary must be a list of strings, got {kind_of(vocabulary)}")
    return matrix, terms


def expect_vocabulary(got: list[str], expected: list[str], *, what: str, context: str) -> None:
    """Fail unless ``got`` is ``expected`` (the sorted list of terms), saying what differs."""
    if got == expected:
        return
    missing = [t for t in expected if t not in set(got)]
    extra = [t for t in dict.fromkeys(got) if t not in set(expected)]
    if not missing and not extra:
        if len(got) != len(set(got)):
            duplicates = sorted({t for t in got if got.count(t) > 1})
            raise GradingError(f"{what} for {context}: terms appear more than once: {duplicates[:5]}")
        raise GradingError(
            f"{what} for {context}: the right {len(got)} terms, but not in sorted order.\n"
            f"  expected {preview_terms(expected)}\n  got      {preview_terms(got)}"
        )
    parts = [f"expected {len(expected)} terms, got {len(got)}"]
    if missing:
        parts.append(f"missing {preview_terms(missing)}")
    if extra:
        parts.append(f"unexpected {preview_terms(extra)}")
    raise GradingError(f"{what} for {context}: " + "; ".join(parts))


def preview_terms(terms: list[str], n: int = 8) -> str:
    return "[" + ", ".join(repr(t) for t in terms[:n]) + (", ..." if len(terms) > n else "") + "]"


def column_order(got_terms: list[str], terms: list[str], *, what: str, context: str) -> list[int] | None:
    """Which of the answer's columns holds each expected term: None when its vocabulary is
    exactly the expected one. Extra terms are left out here (the vocabulary requirement counts
    them); a missing or repeated term is a GradingError, since the values cannot match then."""
    if got_terms == terms:
        return None
    column = {term: j for j, term in enumerate(got_terms)}
    repeated = sorted({t for t in got_terms if got_terms.count(t) > 1}) if len(column) != len(got_terms) else []
    missing = [t for t in terms if t not in column]
    if repeated or missing:
        detail = f"terms repeated: {preview_terms(repeated)}" if repeated else f"no column for {preview_terms(missing)}"
        raise GradingError(f"{what} for {context}: {detail}, so the values cannot match: fix the vocabulary first")
    return [column[term] for term in terms]


def checked_array(got: Any, expected: Any, *, what: str, context: str, n_columns: int | None = None) -> np.ndarray:
    """The values of the answer's array after checking its kind, shape and dtype against
    ``expected`` (plain data); ``n_columns``: the size of the answer's own vocabulary."""
    meta = tensor_meta(got)
    if meta is None:
        raise GradingError(f"{what} for {context}: expected a NumPy array (np.ndarray), got {kind_of(got)}")
    if meta.kind != "numpy.ndarray":
        raise GradingError(f"{what} for {context}: expected a NumPy array (np.ndarray), got a {meta.kind}")
    a, e = values_of(got), values_of(expected)
    shape = e.shape if n_columns is None or e.ndim != 2 else (e.shape[0], n_columns)
    if a.shape != shape:
        hint = " (rows are documents, columns are terms)" if a.shape == shape[::-1] else ""
        raise GradingError(
            f"{what} for {context}: expected shape (n_documents, n_terms) = {shape}, got {a.shape}{hint}"
        )
    got_dtype, want_dtype = meta.dtype, known_tensor_meta(expected).dtype
    if got_dtype != want_dtype:
        raise GradingError(f"{what} for {context}: expected dtype {want_dtype}, got {got_dtype}")
    return a


def expect_array(
    got: Any,
    expected: Any,
    *,
    what: str,
    context: str,
    terms: list[str],
    got_terms: list[str] | None = None,
    atol: float = 1e-9,
    rtol: float = 1e-9,
) -> None:
    """Fail unless ``got`` is a dense NumPy array of ``expected``'s shape, dtype and values.

    Both are plain data (arrays as :func:`~llmcourse.grading.contract.to_plain` makes them; the
    contract's ``expect_tensor`` wants torch tensors). ``terms`` names the expected columns, so
    the message says at which document and term the first difference is. With ``got_terms``
    (the answer's vocabulary), the answer's columns are matched to ``terms`` by term first.
    """
    order = None if got_terms is None else column_order(got_terms, terms, what=what, context=context)
    n_columns = None if order is None or got_terms is None else len(got_terms)  # order: got_terms is a list
    a = checked_array(got, expected, what=what, context=context, n_columns=n_columns)
    expect_values(
        a if order is None else a[:, order],
        values_of(expected),
        what=what,
        context=context,
        terms=terms,
        atol=atol,
        rtol=rtol,
    )


def expect_values(
    a: np.ndarray, e: np.ndarray, *, what: str, context: str, terms: list[str], atol: float, rtol: float
) -> None:
    a, e = a.astype(np.float64), e.astype(np.float64)
    if a.size == 0:
        return
    both_nan = np.isnan(a) & np.isnan(e)  # only when comparing with a catalogued mistake's result
    with np.errstate(invalid="ignore"):
        bad = ~((np.abs(a - e) <= atol + rtol * np.abs(e)) | both_nan)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        term = f"term {terms[j]!r}" if j < len(terms) else f"column {j}"
        raise GradingError(
            f"{what} for {context}: values differ at document {i}, {term} (index ({i}, {j})): "
            f"expected {e[i, j]:.6g}, got {a[i, j]:.6g}"
            f"\n  expected row {i} starts {_preview_row(e[i])}\n  got      row {i} starts {_preview_row(a[i])}"
        )


def _preview_row(row: np.ndarray, n: int = 6) -> str:
    return "[" + ", ".join(f"{x:.4g}" for x in row[:n]) + (", ..." if row.size > n else "") + "]"


def _outcome(plain: Any) -> tuple[str, Any]:
    """``("raised", None)`` or ``("returned", the plain result)`` of a refusing case."""
    inner = plain.get("dict", {}) if isinstance(plain, dict) else {}
    if "raised" in inner:
        return "raised", None
    return "returned", inner.get("returned")


def compare_refusal(case: Case, got: Any, expected: Any, what: str) -> None:
    got_kind, got_value = _outcome(got)
    want_kind, want_value = _outcome(expected)
    if want_kind == "raised" and got_kind != "raised":
        raise GradingError(
            f"{what} for {case.label}: no document has a token, so scikit-learn raises "
            f"ValueError('empty vocabulary'); yours returned {kind_of(got_value)}"
        )
    if want_kind == "returned" and (got_kind != "returned" or got_value != want_value):  # a catalogued mistake's result
        raise GradingError(f"{what} for {case.label}: a different result")


def expect_zero_rows(matrix: Any, expected: Any, case: Case, *, what: str) -> None:
    """One row per document, and the rows of the documents without tokens equal the expected
    ones (all zeros; ``expected`` may also be a catalogued mistake's result)."""
    documents = case.inputs[0]
    meta = tensor_meta(matrix)
    if meta is None or meta.kind != "numpy.ndarray":
        raise GradingError(f"{what} for {case.label}: expected a NumPy array (np.ndarray), got {kind_of(matrix)}")
    a, e = values_of(matrix).astype(np.float64), values_of(expected).astype(np.float64)
    if a.ndim != 2 or a.shape[0] != e.shape[0]:
        raise GradingError(
            f"{what} for {case.label}: expected one row per document ({e.shape[0]} rows), got shape {a.shape}; "
            "a document without any token still gets its row"
        )
    if e.shape[0] != len(documents):
        return  # a catalogued mistake that drops rows, and so does the answer
    for i in token_less(documents):
        if a[i].shape == e[i].shape:  # (e is zeros, or a catalogued mistake's row, NaN perhaps)
            same = np.all((a[i] == e[i]) | (np.isnan(a[i]) & np.isnan(e[i])))
        else:  # the answer has other columns: its row must be zeros all the same
            same = np.all(e[i] == 0) and np.all(a[i] == 0)
        if not same:
            shown = "NaN" if np.isnan(a[i]).any() else _preview_row(a[i])
            raise GradingError(
                f"{what} for {case.label}: document {i} ({documents[i]!r}) has no token, so its row must be all "
                f"zeros; got {shown}"
            )
