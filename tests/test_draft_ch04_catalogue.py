"""The draft catalogue of chapter 04: every mistake is caught by an oracle, every alternative passes.

Oracles: Hugging Face's loss (perplexity), a brute-force per-token computation with the model's
logits (sliding window), sacrebleu (BLEU), rouge-score (ROUGE). None of them is llmcourse.metrics.
"""
import importlib.util
import math
from pathlib import Path

import pytest
import sacrebleu
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer
from transformers import GPT2Config, GPT2LMHeadModel

# Loaded by path: importing llmcourse.grading would also import the grading engine, which this
# plain data module does not need.
_PATH = Path(__file__).resolve().parents[1] / "llmcourse" / "grading" / "_draft_ch04_catalogue.py"
_spec = importlib.util.spec_from_file_location("_draft_ch04_catalogue", _PATH)
catalogue = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(catalogue)

NAMES = ["perplexity", "sliding_window_perplexity", "bleu", "rouge_n", "rouge_l"]
SCORER = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rouge3", "rougeL"], use_stemmer=False)


def load(code: str, name: str):
    namespace: dict = {}
    exec(compile(code, f"<answer {name}>", "exec"), namespace)
    return namespace[name]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small models run faster on one thread, and do not stall when other processes share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=50, n_positions=64, n_embd=32, n_layer=2, n_head=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return GPT2LMHeadModel(config).eval()


# ------------------------------------------------------------------ oracles


def batch(seed, lengths, T=None):
    """Random ids with right padding (id 0) after each row's length, and the attention mask."""
    g = torch.Generator().manual_seed(seed)
    T = T or max(lengths)
    ids = torch.randint(1, 50, (len(lengths), T), generator=g)
    mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).long()
    return ids.masked_fill(mask == 0, 0), mask


def perplexity_oracle(model, ids, mask):
    """Logits of the model and exp of its Hugging Face loss, padding labelled -100."""
    with torch.no_grad():
        out = model(ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100))
    return out.logits, math.exp(out.loss.item())


def sliding_window_oracle(model, ids, max_length, stride):
    """Each token t >= 1 scored once, from the first window (starts 0, s, 2s, ...) that reaches it."""
    nlls = []
    for t in range(1, ids.shape[1]):
        begin = 0
        while begin + max_length <= t:
            begin += stride
        with torch.no_grad():
            logits = model(ids[:, begin:t]).logits[0, -1]
        nlls.append(-torch.log_softmax(logits.double(), -1)[ids[0, t]].item())
    return math.exp(sum(nlls) / len(nlls))


def bleu_oracle(hypotheses, references):
    k = max(len(refs) for refs in references)
    streams = [[refs[j] if j < len(refs) else None for refs in references] for j in range(k)]
    return sacrebleu.corpus_bleu(hypotheses, streams).score


def rouge_oracle(prediction, reference, kind):
    return tuple(SCORER.score(reference, prediction)[kind])


# ------------------------------------------------------------------ the catalogue's shape


def test_every_graded_function_has_mistakes_and_alternatives():
    assert sorted(catalogue.MISTAKES) == sorted(NAMES) == sorted(catalogue.ALTERNATIVES)
    for name in NAMES:
        mistakes = catalogue.MISTAKES[name]
        assert len(mistakes) >= 5 and len(catalogue.ALTERNATIVES[name]) >= 2, name
        ids = [mistake_id for mistake_id, _, _ in mistakes]
        assert len(set(ids)) == len(ids), name
        for mistake_id, message, code in mistakes:
            assert message.startswith("your ") and len(message) > 40, mistake_id
            assert callable(load(code, name)), mistake_id
        for code in catalogue.ALTERNATIVES[name]:
            assert callable(load(code, name))
            for forbidden in ("sacrebleu", "rouge_score", "llmcourse.metrics", "labels="):
                assert forbidden not in code, (name, forbidden)
        codes = [code for _, _, code in mistakes] + catalogue.ALTERNATIVES[name]
        assert len(set(codes)) == len(codes), name


def differs(got, expected, rel=1e-6):
    if isinstance(expected, tuple):
        return len(got) != len(expected) or any(not math.isclose(g, e, rel_tol=rel, abs_tol=1e-12) for g, e in zip(got, expected))
    return not math.isclose(got, expected, rel_tol=rel, abs_tol=1e-9)


def caught(answer, cases):
    """Whether ``answer`` gives a different result from the oracle on some case (errors do not count)."""
    for args, expected in cases:
        try:
            got = answer(*args)
        except Exception:
            continue
        if differs(got, expected):
            return True
    return False


# ------------------------------------------------------------------ mistakes are caught


@pytest.fixture(scope="module")
def perplexity_cases(tiny):
    cases = []
    for seed, lengths in [(0, [9, 4, 7]), (1, [6, 6])]:
        ids, mask = batch(seed, lengths)
        logits, expected = perplexity_oracle(tiny, ids, mask)
        cases.append(((logits, ids, mask), expected))
    return cases


@pytest.fixture(scope="module")
def sliding_window_cases(tiny):
    ids = torch.randint(50, (1, 41), generator=torch.Generator().manual_seed(3))
    return [((tiny, ids, L, s), sliding_window_oracle(tiny, ids, L, s)) for L, s in [(8, 4), (16, 5)]]


BLEU_CORPORA = [
    (["The cat sat on the mat."], [["The cat is sitting on the mat."]]),
    (["the the the the cat"], [["the cat sat on the mat", "there is a cat on the mat"]]),
    (["It costs $3.50, right?", "A dog ran."], [["It costs $3.50, doesn't it?"], ["A dog ran in the park today.", "The dog ran."]]),
    (["a cat sat on the red mat today", "the dog"], [["the cat sat on a mat", "a cat is on the mat"], ["the dog barked"]]),
    (["x y z w", "q r"], [["x y z w"], ["r q"]]),
]
ROUGE_PAIRS = [
    ("The cat sat on the mat.", "the cat was on the mat"),
    ("the the cat the", "the cat sat the the"),
    ("a b c d", "a b c d e f g h"),
    ("cat the sat on mat", "the cat sat on the mat"),
    ("Naïve café, opens!", "naive cafe opens today"),
]


def test_perplexity_mistakes_are_caught(perplexity_cases):
    for mistake_id, _, code in catalogue.MISTAKES["perplexity"]:
        assert caught(load(code, "perplexity"), perplexity_cases), mistake_id


def test_sliding_window_mistakes_are_caught(sliding_window_cases):
    for mistake_id, _, code in catalogue.MISTAKES["sliding_window_perplexity"]:
        assert caught(load(code, "sliding_window_perplexity"), sliding_window_cases), mistake_id


def test_bleu_mistakes_are_caught():
    cases = [((h, r), bleu_oracle(h, r)) for h, r in BLEU_CORPORA]
    for mistake_id, _, code in catalogue.MISTAKES["bleu"]:
        assert caught(load(code, "bleu"), cases), mistake_id


@pytest.mark.parametrize("name", ["rouge_n", "rouge_l"])
def test_rouge_mistakes_are_caught(name):
    if name == "rouge_n":
        cases = [((p, r, n), rouge_oracle(p, r, f"rouge{n}")) for p, r in ROUGE_PAIRS for n in (1, 2)]
    else:
        cases = [((p, r), rouge_oracle(p, r, "rougeL")) for p, r in ROUGE_PAIRS]
    for mistake_id, _, code in catalogue.MISTAKES[name]:
        assert caught(load(code, name), cases), mistake_id


# ------------------------------------------------------------------ alternatives pass


@pytest.mark.parametrize("index", range(len(catalogue.ALTERNATIVES["perplexity"])))
def test_perplexity_alternatives_agree_with_hugging_face(tiny, index):
    answer = load(catalogue.ALTERNATIVES["perplexity"][index], "perplexity")
    for seed, lengths, T in [(0, [2], None), (1, [9, 4, 7], None), (2, [17, 17], None), (3, [5, 12, 1, 8], 14)]:
        ids, mask = batch(seed, lengths, T)
        logits, expected = perplexity_oracle(tiny, ids, mask)
        assert answer(logits, ids, mask) == pytest.approx(expected, rel=1e-5)
        if min(lengths) == (T or max(lengths)):  # no padding: the mask may be left out
            assert answer(logits, ids) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("index", range(len(catalogue.ALTERNATIVES["sliding_window_perplexity"])))
def test_sliding_window_alternatives_agree_with_brute_force(tiny, index):
    answer = load(catalogue.ALTERNATIVES["sliding_window_perplexity"][index], "sliding_window_perplexity")
    for N, L, s in [(41, 8, 4), (30, 16, 5), (20, 64, 10), (25, 6, 5), (12, 3, 1)]:
        ids = torch.randint(50, (1, N), generator=torch.Generator().manual_seed(N + L))
        assert answer(tiny, ids, L, s) == pytest.approx(sliding_window_oracle(tiny, ids, L, s), rel=1e-5), (N, L, s)


WORDS = ["the", "The", "cat", "sat", "on", "mat", "a", "dog", "3.50", "1,000", "2-1", "$", "U.S.", "don't", "&amp;", "(yes)", "well,", "end.", "!"]
sentence = st.lists(st.sampled_from(WORDS), max_size=10).map(" ".join)
corpus = st.lists(st.tuples(sentence, st.lists(sentence, min_size=1, max_size=3)), min_size=1, max_size=5)
BLEU_ANSWERS = [load(code, "bleu") for code in catalogue.ALTERNATIVES["bleu"]]


@settings(max_examples=150, deadline=None)
@given(corpus)
def test_bleu_alternatives_agree_with_sacrebleu(pairs):
    hypotheses, references = [h for h, _ in pairs], [r for _, r in pairs]
    expected = bleu_oracle(hypotheses, references)
    for answer in BLEU_ANSWERS:
        assert answer(hypotheses, references) == pytest.approx(expected, rel=1e-9, abs=1e-9)


ROUGE_WORDS = ["the", "The", "CAT", "cat", "sat", "mat", "a", "Naïve", "café", "3", "x-y", "don't", "!"]
text = st.lists(st.sampled_from(ROUGE_WORDS), max_size=12).map(" ".join) | st.text(max_size=30)
ROUGE_N_ANSWERS = [load(code, "rouge_n") for code in catalogue.ALTERNATIVES["rouge_n"]]
ROUGE_L_ANSWERS = [load(code, "rouge_l") for code in catalogue.ALTERNATIVES["rouge_l"]]


@settings(max_examples=150, deadline=None)
@given(text, text)
def test_rouge_alternatives_agree_with_rouge_score(prediction, reference):
    for n in (1, 2, 3):
        expected = rouge_oracle(prediction, reference, f"rouge{n}")
        for answer in ROUGE_N_ANSWERS:
            assert answer(prediction, reference, n) == pytest.approx(expected, rel=1e-12)
    expected = rouge_oracle(prediction, reference, "rougeL")
    for answer in ROUGE_L_ANSWERS:
        assert answer(prediction, reference) == pytest.approx(expected, rel=1e-12)
