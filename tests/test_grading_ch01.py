"""Chapter 01's checks: messages that name the likely mistake, the first differing document and
term, partial credit by requirement, scikit-learn caught under any name (in the kernel and
through the engine), the trusted bag_of_words stand-in, and odd return values explained."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from llmcourse import text as reference
from llmcourse.grading import GradingError, ch01
from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.contract import array_of, check, mistake_answer
from llmcourse.grading.guards import review_source, scan_source

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "01_history"
ALTERNATIVE_CODE = alternatives_of(CHAPTER)  # autograde/alternatives/: valid answers, never shipped to students


def answer(exercise, code, **namespace):
    exec(code, namespace)
    return namespace[exercise.name]


def good_bag_of_words():
    return answer(ch01.BAG_OF_WORDS, ALTERNATIVE_CODE["bag_of_words"][0])


MISTAKES = [(ex, m) for ex in (ch01.BAG_OF_WORDS, ch01.TFIDF) for m in ex.mistakes]


@pytest.mark.parametrize("exercise, mistake", MISTAKES, ids=[f"{e.name}-{m.id}" for e, m in MISTAKES])
def test_visible_checks_name_the_likely_mistake(exercise, mistake):
    with pytest.raises(GradingError) as failure:
        check(exercise, mistake_answer(exercise, mistake), quiet=True)
    assert f"Likely mistake: {mistake.message}" in str(failure.value)


def by_id(exercise, mistake_id):
    return mistake_answer(exercise, next(m for m in exercise.mistakes if m.id == mistake_id))


def test_messages_give_the_document_term_and_values():
    with pytest.raises(GradingError) as failure:
        ch01.check_bag_of_words(by_id(ch01.BAG_OF_WORDS, "presence"))
    text = str(failure.value)
    assert "values differ at document 0, term 'the' (index (0, 3)): expected 2, got 1" in text
    assert "documents=['the cat and the hat', 'the THE The cat', 'hat']" in text
    with pytest.raises(GradingError, match="expected dtype float64, got int64"):
        ch01.check_bag_of_words(by_id(ch01.BAG_OF_WORDS, "int_counts"))
    with pytest.raises(
        GradingError, match=r"expected shape \(n_documents, n_terms\) = \(3, 4\), got \(4, 3\) \(rows are documents"
    ):
        ch01.check_bag_of_words(by_id(ch01.BAG_OF_WORDS, "transposed"))
    with pytest.raises(GradingError, match=r"the right 7 terms, but not in sorted order"):
        ch01.check_bag_of_words(by_id(ch01.BAG_OF_WORDS, "insertion_order"))
    with pytest.raises(GradingError, match=r"row 0 has Euclidean \(L2\) norm [0-9.]+, expected 1"):
        ch01.check_tfidf(by_id(ch01.TFIDF, "not_normalised"))
    with pytest.raises(GradingError, match=r"document 1 \(''\) has no token, so its row must be all zeros; got NaN"):
        ch01.check_tfidf(by_id(ch01.TFIDF, "nan_rows"))


@pytest.mark.parametrize(
    "exercise, mistake_id, lost",
    [
        (ch01.BAG_OF_WORDS, "insertion_order", {"vocabulary"}),
        (ch01.BAG_OF_WORDS, "ascii_only", {"unicode"}),
        (ch01.BAG_OF_WORDS, "int_counts", {"counts"}),
        (ch01.BAG_OF_WORDS, "single_characters", {"vocabulary", "no_token", "empty"}),
        (ch01.BAG_OF_WORDS, "no_value_error", {"empty"}),
        (ch01.TFIDF, "unsmoothed_idf", {"weights"}),
        (ch01.TFIDF, "l1_norm", {"norm"}),
        (ch01.TFIDF, "nan_rows", {"no_token"}),
    ],
)
def test_partial_credit_follows_the_requirements(exercise, mistake_id, lost):
    with pytest.raises(GradingError) as failure:
        check(exercise, by_id(exercise, mistake_id), hidden=True, quiet=True)
    failed = {s.id for s in exercise.subchecks if f"- {s.requirement}:" in str(failure.value)}
    assert failed == lost


def bow_alias(documents):
    from sklearn.feature_extraction.text import CountVectorizer as Helper  # an alias: still caught

    vectorizer = Helper()
    return vectorizer.fit_transform(documents).toarray().astype(float), list(vectorizer.get_feature_names_out())


def tfidf_getattr(documents):
    import sys

    module = sys.modules["sk" + "learn.feature_extraction.text"]
    vectorizer = getattr(module, "Tfidf" + "Vectorizer")()
    return vectorizer.fit_transform(documents).toarray(), list(vectorizer.get_feature_names_out())


def tfidf_transformer(documents):
    from sklearn.feature_extraction.text import TfidfTransformer as T

    counts, vocabulary = bag_of_words(documents)  # noqa: F821 - the stand-in is bound while checked
    return T().fit_transform(counts).toarray(), vocabulary


def tfidf_normalize(documents):
    from sklearn.preprocessing import normalize

    counts, vocabulary = bag_of_words(documents)  # noqa: F821
    n, df = counts.shape[0], (counts > 0).sum(0)
    return normalize(counts * (np.log((1 + n) / (1 + df)) + 1)), vocabulary


def bow_reference(documents):
    return reference.bag_of_words(documents)


def tfidf_reference_swallowed(documents):
    try:
        reference.tfidf(documents)
    except BaseException:  # noqa: BLE001 - hiding the call does not help: caught on the way out
        pass
    counts, vocabulary = bag_of_words(documents)  # noqa: F821
    return counts, vocabulary


@pytest.mark.parametrize(
    "fn, check_fn, used",
    [
        (bow_alias, ch01.check_bag_of_words, "sklearn.feature_extraction.text.CountVectorizer"),
        (
            tfidf_getattr,
            ch01.check_tfidf,
            "sklearn.feature_extraction.text.TfidfVectorizer",
        ),  # its __init__: a closure (super())
        (tfidf_transformer, ch01.check_tfidf, "sklearn.feature_extraction.text.TfidfTransformer"),
        (tfidf_normalize, ch01.check_tfidf, "sklearn.preprocessing._data.normalize"),
        (bow_reference, ch01.check_bag_of_words, "llmcourse.text.bag_of_words"),
        (tfidf_reference_swallowed, ch01.check_tfidf, "llmcourse.text.tfidf"),
    ],
)
def test_scikit_learn_and_the_reference_are_caught_under_any_name(fn, check_fn, used):
    fn.__globals__["bag_of_words"] = None  # replaced by the stand-in while tfidf is checked
    try:
        with pytest.raises(GradingError, match=f"must be written by you.*{used}"):
            check_fn(fn)
    finally:
        del fn.__globals__["bag_of_words"]
    from sklearn.feature_extraction.text import TfidfVectorizer

    assert TfidfVectorizer().fit_transform(["a cat", "the cat"]).shape == (2, 2), "scikit-learn works again afterwards"
    assert reference.tfidf(["a cat", "the cat"])[1] == ["cat", "the"], "so does the reference"


@pytest.mark.parametrize(
    "source",
    [
        "import sklearn",
        "import sklearn.feature_extraction.text as t",
        "from sklearn.feature_extraction.text import TfidfVectorizer as V",
        "from sklearn.preprocessing import normalize",
        "from llmcourse import text",
        "from llmcourse.text import tokenize",
        "v = text_module.CountVectorizer()",
    ],
)
def test_the_source_scan_reads_forbidden_names(source):
    for exercise in (ch01.BAG_OF_WORDS, ch01.TFIDF):
        assert scan_source(source, exercise.forbidden.names), source


def test_a_string_naming_a_forbidden_module_is_for_review():
    """It may be honest (an error message); a call through it is caught when it runs (issue 15)."""
    for exercise in (ch01.BAG_OF_WORDS, ch01.TFIDF):
        assert not scan_source("name = 'sklearn'", exercise.forbidden.names)
        assert review_source("name = 'sklearn'", exercise.forbidden.names)


def test_honest_code_passes_the_source_scan():
    for key, exercise in ch01.EXERCISES.items():
        for code in ALTERNATIVE_CODE[key]:
            assert scan_source(code, exercise.forbidden.names) == []


def test_tfidf_runs_with_a_trusted_bag_of_words_and_puts_the_students_back():
    buggy = by_id(ch01.BAG_OF_WORDS, "no_lowercase")
    namespace = {"bag_of_words": buggy}
    tfidf = answer(ch01.TFIDF, ALTERNATIVE_CODE["tfidf"][0], **namespace)
    ch01.check_tfidf(tfidf, hidden=True)
    assert namespace["bag_of_words"] is buggy
    del namespace["bag_of_words"]  # missing altogether (its cell raised)
    ch01.check_tfidf(tfidf)
    assert "bag_of_words" not in namespace


def test_odd_return_values_are_explained():
    bow = good_bag_of_words()
    ch01.check_bag_of_words(lambda docs: (bow(docs)[0], np.array(bow(docs)[1])))  # a vocabulary array is accepted
    with pytest.raises(GradingError, match=r"returned \(vocabulary, matrix\): the order is \(matrix, vocabulary\)"):
        ch01.check_bag_of_words(lambda docs: bow(docs)[::-1])
    import torch

    with pytest.raises(GradingError, match=r"expected a NumPy array \(np.ndarray\), got a torch.Tensor"):
        ch01.check_bag_of_words(lambda docs: (torch.from_numpy(bow(docs)[0]), bow(docs)[1]))
    with pytest.raises(GradingError, match=r"expected a NumPy array \(np.ndarray\), got a list of"):
        ch01.check_bag_of_words(lambda docs: (bow(docs)[0].tolist(), bow(docs)[1]))
    with pytest.raises(GradingError, match="must return a tuple of 2 items"):
        ch01.check_bag_of_words(lambda docs: bow(docs)[0])

    def stub(documents):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented yet"):
        ch01.check_tfidf(stub)


def test_an_empty_corpus_must_raise_value_error():
    bow = good_bag_of_words()

    def empty_matrix(documents):
        try:
            return bow(documents)
        except ValueError:
            return np.zeros((len(documents), 0)), []

    with pytest.raises(
        GradingError, match=r"scikit-learn raises ValueError\('empty vocabulary'\); yours returned a tuple of 2"
    ):
        ch01.check_bag_of_words(empty_matrix)

    def index_error(documents):
        if not documents:
            return [][0]
        return bow(documents)

    with pytest.raises(GradingError, match=r"raised IndexError.*documents=\[\]"):
        ch01.check_bag_of_words(index_error)


def test_expected_values_are_scikit_learns():
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    for exercise, vectorizer in ((ch01.BAG_OF_WORDS, CountVectorizer), (ch01.TFIDF, TfidfVectorizer)):
        cases = exercise.cases(True)
        assert {c.subcheck for c in cases if not c.visible} == {s.id for s in exercise.subchecks}
        for case in cases:
            documents, refuses = case.inputs
            if refuses:
                with pytest.raises(ValueError):
                    vectorizer().fit(documents)
                continue
            (matrix, terms) = case.expected["tuple"]
            v = vectorizer()
            np.testing.assert_array_equal(array_of(matrix), v.fit_transform(documents).toarray())
            assert terms["list"] == v.get_feature_names_out().tolist()


def test_engine_catches_scikit_learn_the_source_scan_cannot_read(tmp_path):
    """Through the sandboxed engine: a tfidf that reaches TfidfVectorizer through sys.modules and
    getattr passes the source scan, and is caught in the student's process; bag_of_words keeps
    its points."""
    from llmcourse.grading.engine import Engine

    source = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)
    nb = nbformat.from_dict(json.loads(json.dumps(source)))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "tfidf")
    cell.source = (
        "import sys\n\ndef tfidf(documents):\n"
        "    module = sys.modules['sk' + 'learn.feature_extraction.text']\n"
        "    vectorizer = getattr(module, 'Tfidf' + 'Vectorizer')()\n"
        "    return vectorizer.fit_transform(documents).toarray(), list(vectorizer.get_feature_names_out())\n"
    )
    assert scan_source(cell.source, ch01.TFIDF.forbidden.names) == []
    path = tmp_path / f"{CHAPTER}.ipynb"
    nbformat.write(nb, path)
    (result,) = Engine({CHAPTER: source}, workers=2).grade([("eve", CHAPTER, path)], progress=False)
    by_name = {e.name: e for e in result.exercises}
    assert by_name["bag_of_words"].status == "passed" and by_name["bag_of_words"].points == 4
    assert by_name["tfidf"].status == "forbidden" and by_name["tfidf"].points == 0
    assert "sklearn.feature_extraction.text.TfidfVectorizer" in by_name["tfidf"].messages[0]  # its __init__ (a closure)
