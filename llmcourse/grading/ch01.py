"""Graded checks of chapter 01 (from counting words to transformers), declared for the engine.

Test cells call ``check_bag_of_words(fn)`` and ``check_tfidf(fn)`` (visible cases); the hidden
part adds ``hidden=True``. Expected values come from scikit-learn itself, ``CountVectorizer()``
and ``TfidfVectorizer()`` with their default settings (``fit_transform(...).toarray()`` and
``get_feature_names_out()``), never from the course's reference :mod:`llmcourse.text`.

Answers return NumPy arrays, which :func:`~llmcourse.grading.contract.expect_tensor` does not
take (it wants a ``torch.Tensor``), so this module compares arrays itself
(:func:`expect_array`): kind, shape, dtype, then values, with the first differing entry named by
its document and term. Columns are matched by term before values are compared, so a vocabulary
in the wrong order, or with extra terms, costs the vocabulary requirement only (a missing term
fails the values too: they cannot be right).

Each exercise's ``mistakes`` and ``alternatives`` are complete answers, as a student could hand
them in; the mutation suite (``course.py mutants``) grades every one of them.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    Mistake,
    SubCheck,
    check,
    items_of,
    kind_of,
    to_plain,
    values_of,
)
from llmcourse.grading.runners.ch01 import RUNNERS

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


def _corpus(seed: int, n_documents: int, max_length: int, *, unicode: bool = False, token_less: int = 0) -> list[str]:
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


def _label(documents: list[str], seed: int | None = None) -> str:
    """The documents as Python, shortened for long corpora (the seed says which random one)."""
    text = repr(documents)
    if len(text) <= 160:
        return f"documents={text}"
    tokens = sum(len(d.split()) for d in documents)
    origin = f"random corpus (seed {seed})" if seed is not None else "a corpus"
    return f"{origin}: {len(documents)} documents, about {tokens} words, starting {documents[0][:50]!r}"


# ---------------------------------------------------------------- oracles (scikit-learn)


def _oracle(vectorizer_class, documents: list[str]) -> Any:
    """scikit-learn's answer as plain data: (dense float64 matrix, vocabulary), or
    ``{"raised": "ValueError"}`` when it refuses the corpus (empty vocabulary)."""
    try:
        vectorizer = vectorizer_class()
        matrix = vectorizer.fit_transform(documents).toarray().astype(np.float64)
    except ValueError:
        return to_plain({"raised": "ValueError"})
    return to_plain((matrix, vectorizer.get_feature_names_out().tolist()))


def _token_less(documents: list[str]) -> list[int]:
    """Indexes of the documents without any token, by scikit-learn's own analyzer."""
    analyze = CountVectorizer().build_analyzer()
    return [i for i, doc in enumerate(documents) if not analyze(doc)]


# ---------------------------------------------------------------- comparisons (grader side)


def _vocabulary_of(plain: Any) -> list[str] | None:
    items = plain.get("list", plain.get("tuple")) if isinstance(plain, dict) else None
    if items is None or not all(isinstance(t, str) for t in items):
        return None
    return items


def _split(got: Any, what: str) -> tuple[Any, list[str]]:
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
            f"  expected {_preview_terms(expected)}\n  got      {_preview_terms(got)}"
        )
    parts = [f"expected {len(expected)} terms, got {len(got)}"]
    if missing:
        parts.append(f"missing {_preview_terms(missing)}")
    if extra:
        parts.append(f"unexpected {_preview_terms(extra)}")
    raise GradingError(f"{what} for {context}: " + "; ".join(parts))


def _preview_terms(terms: list[str], n: int = 8) -> str:
    return "[" + ", ".join(repr(t) for t in terms[:n]) + (", ..." if len(terms) > n else "") + "]"


def _column_order(got_terms: list[str], terms: list[str], *, what: str, context: str) -> list[int] | None:
    """Which of the answer's columns holds each expected term: None when its vocabulary is
    exactly the expected one. Extra terms are left out here (the vocabulary requirement counts
    them); a missing or repeated term is a GradingError, since the values cannot match then."""
    if got_terms == terms:
        return None
    column = {term: j for j, term in enumerate(got_terms)}
    repeated = sorted({t for t in got_terms if got_terms.count(t) > 1}) if len(column) != len(got_terms) else []
    missing = [t for t in terms if t not in column]
    if repeated or missing:
        detail = (
            f"terms repeated: {_preview_terms(repeated)}" if repeated else f"no column for {_preview_terms(missing)}"
        )
        raise GradingError(f"{what} for {context}: {detail}, so the values cannot match: fix the vocabulary first")
    return [column[term] for term in terms]


def _checked_array(got: Any, expected: Any, *, what: str, context: str, n_columns: int | None = None) -> np.ndarray:
    """The values of the answer's array after checking its kind, shape and dtype against
    ``expected`` (plain data); ``n_columns``: the size of the answer's own vocabulary."""
    if not (isinstance(got, dict) and "tensor" in got):
        raise GradingError(f"{what} for {context}: expected a NumPy array (np.ndarray), got {kind_of(got)}")
    if got["tensor"]["kind"] != "numpy.ndarray":
        raise GradingError(f"{what} for {context}: expected a NumPy array (np.ndarray), got a {got['tensor']['kind']}")
    a, e = values_of(got), values_of(expected)
    shape = e.shape if n_columns is None or e.ndim != 2 else (e.shape[0], n_columns)
    if a.shape != shape:
        hint = " (rows are documents, columns are terms)" if a.shape == shape[::-1] else ""
        raise GradingError(
            f"{what} for {context}: expected shape (n_documents, n_terms) = {shape}, got {a.shape}{hint}"
        )
    got_dtype, want_dtype = got["tensor"]["dtype"], expected["tensor"]["dtype"]
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
    order = None if got_terms is None else _column_order(got_terms, terms, what=what, context=context)
    n_columns = None if order is None or got_terms is None else len(got_terms)  # order: got_terms is a list
    a = _checked_array(got, expected, what=what, context=context, n_columns=n_columns)
    _expect_values(
        a if order is None else a[:, order],
        values_of(expected),
        what=what,
        context=context,
        terms=terms,
        atol=atol,
        rtol=rtol,
    )


def _expect_values(
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


def _compare_refusal(case: Case, got: Any, expected: Any, what: str) -> None:
    got_kind, got_value = _outcome(got)
    want_kind, want_value = _outcome(expected)
    if want_kind == "raised" and got_kind != "raised":
        raise GradingError(
            f"{what} for {case.label}: no document has a token, so scikit-learn raises "
            f"ValueError('empty vocabulary'); yours returned {kind_of(got_value)}"
        )
    if want_kind == "returned" and (got_kind != "returned" or got_value != want_value):  # a catalogued mistake's result
        raise GradingError(f"{what} for {case.label}: a different result")


# ---------------------------------------------------------------- exercise 1: bag of words


def _bow_cases(hidden: bool) -> list[Case]:
    visible = {
        "vocabulary": [
            ["The cat sat on the mat.", "The dog sat on the log!"],
            ["I saw a CAT", "a cat saw me", "Cats, cat, CAT."],
        ],
        "counts": [
            ["the cat and the hat", "the THE The cat", "hat"],
            ["Dog bites man.", "Man bites dog!", "dog dog dog"],
        ],
        "unicode": [["café au lait in zürich", "東京 and 北京, déjà-vu", "snake_case x2 costs 3.14 in 2024"]],
        "no_token": [["A cat.", "", "a b c !", "The cat and a dog"]],
        "empty": [[], ["a", "!?", "I x y"]],
    }
    cases = [_bow_case(sub, docs, True) for sub, corpora in visible.items() for docs in corpora]
    if hidden:
        for n, (size, length) in enumerate([(1, 6), (4, 12), (12, 30), (40, 60), (150, 40)]):
            cases.append(_bow_case("vocabulary", _corpus(100 + n, size, length), False, seed=100 + n))
            cases.append(_bow_case("counts", _corpus(200 + n, size, length), False, seed=200 + n))
            cases.append(_bow_case("unicode", _corpus(300 + n, size, length, unicode=True), False, seed=300 + n))
            cases.append(_bow_case("no_token", _corpus(400 + n, size, length, token_less=1 + n), False, seed=400 + n))
        for docs in ([""], ["   ", "...", "a b c d e f"], ["I", "A.", "x, y, z"]):
            cases.append(_bow_case("empty", docs, False))
    return cases


def _bow_case(sub: str, documents: list[str], visible: bool, seed: int | None = None) -> Case:
    refuses = sub == "empty"
    expected = _oracle(CountVectorizer, documents)
    if refuses != ("dict" in expected):
        raise AssertionError(f"case of {sub} on {documents!r}: scikit-learn {'accepts' if refuses else 'refuses'} it")
    return Case(sub, (documents, refuses), expected, _label(documents, seed), visible)


def _bow_compare(case: Case, got: Any, expected: Any) -> None:
    what = "bag_of_words"
    if case.subcheck == "empty":
        _compare_refusal(case, got, expected, what)
        return
    counts_e, terms_e = expected["tuple"]
    terms = terms_e["list"]
    counts, got_terms = _split(got, what)
    if case.subcheck == "vocabulary":
        expect_vocabulary(got_terms, terms, what="vocabulary", context=case.label)
        return
    if case.subcheck == "no_token":
        _expect_zero_rows(counts, counts_e, case, what="counts")
        return
    if case.subcheck == "unicode":  # the tokens found, whatever else the vocabulary holds
        missing = [t for t in terms if t not in set(got_terms)]
        if missing:
            raise GradingError(f"vocabulary for {case.label}: these tokens are missing: {_preview_terms(missing)}")
        return
    # every expected term has a column with the right counts (extra terms cost the vocabulary
    # requirement, not this one)
    expect_array(counts, counts_e, what="counts", context=case.label, terms=terms, got_terms=got_terms)


def _expect_zero_rows(matrix: Any, expected: Any, case: Case, *, what: str) -> None:
    """One row per document, and the rows of the documents without tokens equal the expected
    ones (all zeros; ``expected`` may also be a catalogued mistake's result)."""
    documents = case.inputs[0]
    if not (isinstance(matrix, dict) and "tensor" in matrix and matrix["tensor"]["kind"] == "numpy.ndarray"):
        raise GradingError(f"{what} for {case.label}: expected a NumPy array (np.ndarray), got {kind_of(matrix)}")
    a, e = values_of(matrix).astype(np.float64), values_of(expected).astype(np.float64)
    if a.ndim != 2 or a.shape[0] != e.shape[0]:
        raise GradingError(
            f"{what} for {case.label}: expected one row per document ({e.shape[0]} rows), got shape {a.shape}; "
            "a document without any token still gets its row"
        )
    if e.shape[0] != len(documents):
        return  # a catalogued mistake that drops rows, and so does the answer
    for i in _token_less(documents):
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


_BOW = """import re
import numpy as np

def bag_of_words(documents):
    tokens = [@TOKENS@ for doc in documents]
    vocabulary = @VOCABULARY@
    if not vocabulary:
        raise ValueError("empty vocabulary")
    column = {term: j for j, term in enumerate(vocabulary)}
    counts = np.zeros((len(documents), len(vocabulary)), dtype=@DTYPE@)
    for i, doc in enumerate(tokens):
        for term in doc:
            counts[i, column[term]] += 1
    return @RESULT@
"""
_BOW_PARTS = {
    "TOKENS": 're.findall(r"(?u)\\b\\w\\w+\\b", doc.lower())',
    "VOCABULARY": "sorted({term for doc in tokens for term in doc})",
    "DTYPE": "np.float64",
    "RESULT": "counts, vocabulary",
}


def _bow_variant(**parts: str) -> str:
    code = _BOW
    for key, default in _BOW_PARTS.items():
        code = code.replace(f"@{key}@", parts.get(key, default))
    return code


BAG_OF_WORDS = Exercise(
    name="bag_of_words",
    cell="bag_of_words",
    test_cell="bag_of_words_tests",
    points=4,
    subchecks=(
        SubCheck(
            "vocabulary",
            1.0,
            "the vocabulary is the sorted list of distinct tokens: lower-cased, two or more word characters",
        ),
        SubCheck(
            "counts",
            1.5,
            "counts is a float64 NumPy array (n_documents, n_terms): how often each term occurs in each document",
        ),
        SubCheck("unicode", 0.5, "every word character counts: Unicode letters, digits and _"),
        SubCheck("no_token", 0.5, "a document without any token gets a row of zeros"),
        SubCheck("empty", 0.5, "raises ValueError when no document has a token (also for an empty list)"),
    ),
    cases=_bow_cases,
    run=RUNNERS["bag_of_words"],
    compare=_bow_compare,
    forbidden=Forbidden(
        python=(f"{REFERENCE}:bag_of_words", f"{REFERENCE}:tfidf", f"{REFERENCE}:tokenize", *SKLEARN_PYTHON),
        names=SKLEARN_NAMES,
    ),
    mistakes=(
        Mistake(
            "no_lowercase",
            "you do not lower-case the documents: 'The' and 'the' must be one term",
            _bow_variant(TOKENS='re.findall(r"(?u)\\b\\w\\w+\\b", doc)'),
        ),
        Mistake(
            "single_characters",
            "you keep one-character tokens such as 'a' and 'i': a token has two or more word characters (\\w\\w+)",
            _bow_variant(TOKENS='re.findall(r"\\w+", doc.lower())'),
        ),
        Mistake(
            "whitespace_split",
            "you split on whitespace, so punctuation stays attached ('mat.' is not 'mat') and one-letter words stay",
            _bow_variant(TOKENS="doc.lower().split()"),
        ),
        Mistake(
            "ascii_only",
            "your token pattern only knows the letters a-z: digits, Unicode letters ('é', '東') and '_' are word "
            "characters too (\\w)",
            _bow_variant(TOKENS='re.findall(r"[a-z]{2,}", doc.lower())'),
        ),
        Mistake(
            "insertion_order",
            "your vocabulary is in order of first appearance: sort it",
            _bow_variant(VOCABULARY="list(dict.fromkeys(term for doc in tokens for term in doc))"),
        ),
        Mistake(
            "int_counts",
            "your counts are integers: return a float64 array (np.zeros(..., dtype=np.float64))",
            _bow_variant(DTYPE="np.int64"),
        ),
        Mistake(
            "presence",
            "you record whether a term occurs (0 or 1), not how many times it occurs",
            _bow_variant(RESULT="(counts > 0).astype(np.float64), vocabulary"),
        ),
        Mistake(
            "transposed",
            "your matrix is (n_terms, n_documents): rows are documents, columns are terms",
            _bow_variant(RESULT="counts.T.copy(), vocabulary"),
        ),
        Mistake(
            "drops_token_less",
            "you drop the documents without tokens: every document keeps its row, all zeros",
            _bow_variant(RESULT="counts[counts.sum(axis=1) > 0], vocabulary"),
        ),
        Mistake(
            "no_value_error",
            "a corpus without any token must raise ValueError (scikit-learn's 'empty vocabulary'), not return an "
            "empty matrix",
            _bow_variant().replace('raise ValueError("empty vocabulary")', "return np.zeros((len(documents), 0)), []"),
        ),
        Mistake(
            "frequencies",
            "you divide each count by the document's number of tokens (a term frequency): counts are raw counts",
            _bow_variant(RESULT="counts / np.maximum(counts.sum(axis=1, keepdims=True), 1), vocabulary"),
        ),
        Mistake(
            "frequency_order",
            "your vocabulary is ordered by frequency (Counter.most_common): sort it alphabetically (sorted)",
            _bow_variant(
                VOCABULARY=(
                    "[t for t, _ in __import__('collections').Counter(term for doc in tokens for term in doc)"
                    ".most_common()]"
                )
            ),
        ),
        Mistake(
            "float32_counts",
            "your counts are float32: return a float64 array (np.zeros(..., dtype=np.float64))",
            _bow_variant(DTYPE="np.float32"),
        ),
        Mistake(
            "empty_list_only",
            "you raise ValueError only for an empty list: a corpus whose documents have no token at all ('a', '!?') "
            "must raise it too",
            _bow_variant().replace("if not vocabulary:", "if not documents:"),
        ),
        Mistake(
            "ascii_flag",
            "you match \\w in ASCII mode (re.ASCII or (?a)), so 'café' loses its 'é': \\w must match Unicode letters "
            "(the default for str patterns)",
            _bow_variant(TOKENS='re.findall(r"(?a)\\b\\w\\w+\\b", doc.lower())'),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 2: TF-IDF


def _tfidf_cases(hidden: bool) -> list[Case]:
    visible = {
        "vocabulary": [["The cat sat on the mat.", "A dog? THE dog!", "Café, café"]],
        "weights": [["the cat sat", "the cat ran", "the dog ran ran"], ["to be or not to be", "be quick", "not now"]],
        "norm": [["the cat sat", "the cat ran", "the dog ran ran"]],
        "no_token": [["The cat sat.", "", "a !", "The dog sat."], ["", "The cat sat on the mat.", "?"]],
        "empty": [[], ["I", "?!"]],
    }
    cases = [_tfidf_case(sub, docs, True) for sub, corpora in visible.items() for docs in corpora]
    if hidden:
        for n, (size, length) in enumerate([(1, 5), (3, 10), (10, 30), (40, 50), (120, 40)]):
            cases.append(_tfidf_case("vocabulary", _corpus(500 + n, size, length, unicode=True), False, seed=500 + n))
            cases.append(_tfidf_case("weights", _corpus(600 + n, size, length), False, seed=600 + n))
            cases.append(_tfidf_case("norm", _corpus(700 + n, size, length), False, seed=700 + n))
            cases.append(_tfidf_case("no_token", _corpus(800 + n, size, length, token_less=1 + n), False, seed=800 + n))
        cases.append(_tfidf_case("weights", ["same words here", "same words here", "same words here"], False))
        for docs in ([""], ["a b", "...", "   "]):
            cases.append(_tfidf_case("empty", docs, False))
    return cases


def _tfidf_case(sub: str, documents: list[str], visible: bool, seed: int | None = None) -> Case:
    refuses = sub == "empty"
    expected = _oracle(TfidfVectorizer, documents)
    if refuses != ("dict" in expected):
        raise AssertionError(f"case of {sub} on {documents!r}: scikit-learn {'accepts' if refuses else 'refuses'} it")
    return Case(sub, (documents, refuses), expected, _label(documents, seed), visible)


def _unit_rows(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        norms = np.sqrt((a.astype(np.float64) ** 2).sum(axis=1, keepdims=True))
        return a / np.where(norms == 0, 1.0, norms)


def _tfidf_compare(case: Case, got: Any, expected: Any) -> None:
    what = "tfidf"
    if case.subcheck == "empty":
        _compare_refusal(case, got, expected, what)
        return
    matrix_e, terms_e = expected["tuple"]
    terms = terms_e["list"]
    matrix, got_terms = _split(got, what)
    if case.subcheck == "vocabulary":
        expect_vocabulary(got_terms, terms, what="vocabulary", context=case.label)
        return
    if case.subcheck == "no_token":
        _expect_zero_rows(matrix, matrix_e, case, what="TF-IDF matrix")
        return
    order = _column_order(got_terms, terms, what="TF-IDF matrix", context=case.label)
    full = _checked_array(
        matrix, matrix_e, what="TF-IDF matrix", context=case.label, n_columns=None if order is None else len(got_terms)
    )
    a, e = (full if order is None else full[:, order]), values_of(matrix_e)
    if case.subcheck == "weights":  # the direction of each row: count x idf, whatever the normalisation
        _expect_values(
            _unit_rows(a),
            _unit_rows(e),
            what="TF-IDF weights (each row scaled to length 1 before comparing)",
            context=case.label,
            terms=terms,
            atol=1e-9,
            rtol=1e-7,
        )
    else:  # the length of each whole row
        a = full
        got_norms = np.sqrt((a.astype(np.float64) ** 2).sum(axis=1))
        want_norms = np.sqrt((e**2).sum(axis=1))
        # A row of zeros has no length to scale to 1: whether a row should be zeros is for the
        # weights (an idf that zeroes every term of a document) and no_token to judge, not this one.
        scaled = (got_norms != 0) & (want_norms != 0)
        with np.errstate(invalid="ignore"):
            bad = scaled & ~((np.abs(got_norms - want_norms) <= 1e-9) | (np.isnan(got_norms) & np.isnan(want_norms)))
        if bad.any():
            i = int(np.argmax(bad))
            raise GradingError(
                f"TF-IDF matrix for {case.label}: row {i} has Euclidean (L2) norm {got_norms[i]:.6g}, expected "
                f"{want_norms[i]:.6g}; "
                f"row sums: expected {e[i].sum():.6g}, got {a[i].sum():.6g}"
            )


_TFIDF = """import numpy as np

def tfidf(documents):
    counts, vocabulary = bag_of_words(documents)
    n = counts.shape[0]
    df = @DF@
    idf = @IDF@
    weights = @TF@ * idf
    norms = @NORMS@
    with np.errstate(divide="ignore", invalid="ignore"):  # (the course's own copy: no warning while grading)
        return @DIVIDE@, vocabulary
"""
_TFIDF_PARTS = {
    "DF": "(counts > 0).sum(axis=0)",
    "IDF": "np.log((1 + n) / (1 + df)) + 1",
    "TF": "counts",
    "NORMS": "np.linalg.norm(weights, axis=1, keepdims=True)",
    "DIVIDE": "weights / np.where(norms == 0, 1, norms)",
}


def _tfidf_variant(**parts: str) -> str:
    code = _TFIDF
    for key, default in _TFIDF_PARTS.items():
        code = code.replace(f"@{key}@", parts.get(key, default))
    return code


TFIDF = Exercise(
    name="tfidf",
    cell="tfidf",
    test_cell="tfidf_tests",
    points=4,
    subchecks=(
        SubCheck("vocabulary", 0.5, "the vocabulary is the same sorted list of terms as bag_of_words's"),
        SubCheck(
            "weights",
            1.5,
            "each row is proportional to count x (ln((1 + n) / (1 + df)) + 1), a float64 NumPy array (n_documents, "
            "n_terms)",
        ),
        SubCheck("norm", 1.0, "each row is divided by its Euclidean (L2) norm, so it has length 1"),
        SubCheck("no_token", 0.5, "a document without any token gets a row of zeros (not NaN)"),
        SubCheck("empty", 0.5, "raises ValueError when no document has a token (also for an empty list)"),
    ),
    cases=_tfidf_cases,
    run=RUNNERS["tfidf"],
    compare=_tfidf_compare,
    depends={"bag_of_words": f"{REFERENCE}:bag_of_words"},
    forbidden=Forbidden(
        python=(
            f"{REFERENCE}:tfidf",
            f"{REFERENCE}:idf",
            *SKLEARN_PYTHON,
            "sklearn.preprocessing._data:normalize.__wrapped__",
        ),
        names=SKLEARN_NAMES,
    ),
    mistakes=(
        Mistake(
            "unsmoothed_idf",
            "your idf is ln(n / df) + 1, without smoothing: the default adds one to n and to df, ln((1 + n) / (1 + "
            "df)) + 1",
            _tfidf_variant(IDF="np.log(n / df) + 1"),
        ),
        Mistake(
            "idf_without_plus_one",
            "your idf lacks the final + 1: ln((1 + n) / (1 + df)) + 1, so a term found in every document keeps a "
            "weight",
            _tfidf_variant(IDF="np.log((1 + n) / (1 + df))"),
        ),
        Mistake(
            "log10",
            "you use log base 10: the idf uses the natural logarithm (np.log)",
            _tfidf_variant(IDF="np.log10((1 + n) / (1 + df)) + 1"),
        ),
        Mistake(
            "df_counts_occurrences",
            "your document frequency counts occurrences of a term; df(t) is the number of documents that contain t",
            _tfidf_variant(DF="counts.sum(axis=0)"),
        ),
        Mistake(
            "sublinear_tf",
            "you use 1 + ln(count) as the term frequency; the default uses the raw count",
            _tfidf_variant(TF="np.where(counts > 0, 1 + np.log(np.where(counts > 0, counts, 1)), 0)"),
        ),
        Mistake(
            "not_normalised",
            "your rows are not normalised: divide each row by its Euclidean (L2) norm",
            _tfidf_variant(DIVIDE="weights"),
        ),
        Mistake(
            "l1_norm",
            "you divide each row by the sum of its entries (L1); divide by its Euclidean (L2) norm",
            _tfidf_variant(NORMS="weights.sum(axis=1, keepdims=True)"),
        ),
        Mistake(
            "nan_rows",
            "a document without tokens gives a row of NaN (0 / 0): leave its row at zero",
            _tfidf_variant(DIVIDE="weights / norms"),
        ),
        Mistake(
            "normalised_counts",
            "you normalise the counts and then multiply by the idf: normalise the rows of count x idf",
            _tfidf_variant(
                TF=(
                    "counts / np.where(np.linalg.norm(counts, axis=1, keepdims=True) == 0, 1, "
                    "np.linalg.norm(counts, axis=1, keepdims=True))"
                ),
                DIVIDE="weights",
            ),
        ),
        Mistake(
            "no_value_error",
            "a corpus without any token must raise ValueError (scikit-learn's 'empty vocabulary'), not return an "
            "empty matrix",
            """import re
import numpy as np

def tfidf(documents):
    tokens = [re.findall(r"(?u)\\b\\w\\w+\\b", doc.lower()) for doc in documents]
    vocabulary = sorted({term for doc in tokens for term in doc})
    counts = np.array([[doc.count(term) for term in vocabulary] for doc in tokens], dtype=np.float64).reshape(
        len(tokens), len(vocabulary)
    )
    idf = np.log((1 + len(tokens)) / (1 + (counts > 0).sum(axis=0))) + 1
    weights = counts * idf
    norms = np.linalg.norm(weights, axis=1, keepdims=True)
    return weights / np.where(norms == 0, 1, norms), vocabulary
""",
        ),
        Mistake(
            "column_norm",
            "you normalise each column (axis=0): each row, a document, is divided by its own norm (axis=1)",
            _tfidf_variant(NORMS="np.linalg.norm(weights, axis=0, keepdims=True)"),
        ),
        Mistake(
            "squared_norm",
            "you divide each row by the sum of its squares: the Euclidean (L2) norm is its square root",
            _tfidf_variant(NORMS="(weights ** 2).sum(axis=1, keepdims=True)"),
        ),
        Mistake(
            "df_wrong_axis",
            "your document frequency sums along axis=1 (per document); df(t) counts, for each term, the documents "
            "that contain it: axis=0",
            _tfidf_variant(DF="(counts > 0).sum(axis=1)"),
        ),
        Mistake(
            "float32",
            "your matrix is float32: return float64",
            _tfidf_variant(DIVIDE="(weights / np.where(norms == 0, 1, norms)).astype(np.float32)"),
        ),
        Mistake(
            "binary_tf",
            "you use presence (0 or 1) as the term frequency; the default multiplies the raw count by the idf",
            _tfidf_variant(TF="(counts > 0)"),
        ),
        Mistake(
            "idf_one_plus_ratio",
            "your idf is ln(1 + n / df); the default is ln((1 + n) / (1 + df)) + 1",
            _tfidf_variant(IDF="np.log(1 + n / df)"),
        ),
    ),
)

EXERCISES: dict[str, Exercise] = {
    "bag_of_words": BAG_OF_WORDS,
    "tfidf": TFIDF,
}


def check_bag_of_words(fn, hidden: bool = False) -> None:
    """Exercise 1, against scikit-learn's ``CountVectorizer()``. Visible: each requirement on
    small corpora; hidden: random corpora of 1 to 150 documents."""
    check(BAG_OF_WORDS, fn, hidden)


def check_tfidf(fn, hidden: bool = False) -> None:
    """Exercise 2, against scikit-learn's ``TfidfVectorizer()``; a correct ``bag_of_words``
    stands in for yours while it runs. Hidden: random corpora of 1 to 120 documents."""
    check(TFIDF, fn, hidden)
