"""llmcourse.metrics against its oracles: Hugging Face's loss, sacrebleu, rouge-score, brute force."""

import math
import re

import pytest
import sacrebleu
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer
from rouge_score import tokenize as rouge_tokenize
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from transformers import GPT2Config, GPT2LMHeadModel

from llmcourse import data, metrics, models
from llmcourse.gpt import from_hf


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small models run faster on one thread, and do not stall when other processes share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny():
    """A small random GPT-2: 50 tokens, context 64."""
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=50, n_positions=64, n_embd=32, n_layer=2, n_head=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0
    )
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def course_gpt():
    return models.load("course-gpt", device="cpu")


def hf_loss(model, ids, attention_mask=None):
    """exp of the Hugging Face loss, padding labelled -100."""
    labels = ids if attention_mask is None else ids.masked_fill(attention_mask == 0, -100)
    with torch.no_grad():
        out = model(ids, attention_mask=attention_mask, labels=labels)
    return out


# ------------------------------------------------------------------ perplexity


def test_worked_example_of_the_syllabus():
    # the model gives the true tokens probabilities 0.4, 0.27, 0.55, 0.79: perplexity about 2.15
    def ppl_of(probs):
        p = torch.tensor(probs)
        logits = torch.stack([p.log(), (1 - p).log()], dim=-1)  # (4, 2): token 0 has probability p
        logits = torch.cat([logits, torch.zeros(1, 2)])[None]  # (1, 5, 2): the last position predicts nothing
        return metrics.perplexity(logits, torch.zeros(1, 5, dtype=torch.long))

    assert ppl_of([0.4, 0.27, 0.55, 0.79]) == pytest.approx((0.4 * 0.27 * 0.55 * 0.79) ** -0.25, rel=1e-6)
    assert ppl_of([0.4, 0.27, 0.55, 0.79]) == pytest.approx(2.15, abs=0.005)
    assert ppl_of([0.7, 0.5, 0.6, 0.9]) == pytest.approx(1.52, abs=0.005)


def test_uniform_model_has_perplexity_vocab_size():
    assert metrics.perplexity(torch.zeros(2, 7, 13), torch.randint(13, (2, 7))) == pytest.approx(13)


@pytest.mark.parametrize("B,T", [(1, 2), (1, 30), (4, 17)])
def test_perplexity_equals_hugging_face_loss(tiny, B, T):
    g = torch.Generator().manual_seed(B * 100 + T)
    ids = torch.randint(50, (B, T), generator=g)
    out = hf_loss(tiny, ids)
    assert metrics.perplexity(out.logits, ids) == pytest.approx(math.exp(out.loss.item()), rel=1e-5)


@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_is_not_counted_and_the_mean_is_per_token(tiny, side):
    g = torch.Generator().manual_seed(1)
    lengths = [12, 3, 8, 2]
    T = max(lengths)
    ids = torch.randint(1, 50, (4, T), generator=g)
    mask = torch.zeros(4, T, dtype=torch.long)
    for row, n in enumerate(lengths):
        if side == "right":
            mask[row, :n] = 1
        else:
            mask[row, T - n :] = 1
    ids = ids.masked_fill(mask == 0, 0)
    out = hf_loss(tiny, ids, mask)
    ppl = metrics.perplexity(out.logits, ids, mask)
    assert ppl == pytest.approx(math.exp(out.loss.item()), rel=1e-5)
    # not the mean of per-row perplexities, and not counting padding
    per_row = [metrics.perplexity(out.logits[r : r + 1], ids[r : r + 1], mask[r : r + 1]) for r in range(4)]
    assert abs(ppl - sum(per_row) / 4) > 1e-3
    assert abs(ppl - metrics.perplexity(out.logits, ids)) > 1e-3
    # padding may hold ids the model does not know (e.g. -100): they are never looked up
    assert metrics.perplexity(out.logits, ids.masked_fill(mask == 0, -100), mask) == pytest.approx(ppl, rel=1e-9)


def test_perplexity_of_the_course_gpt_and_of_its_hugging_face_form(course_gpt):
    model, tokenizer = course_gpt
    batch = tokenizer(
        ["Once upon a time, there was a little fox named Leo.", "What is 2 plus 3?\nAnswer: 5."],
        return_tensors="pt",
        padding=True,
    )
    ids, mask = batch["input_ids"], batch["attention_mask"]
    out = hf_loss(model, ids, mask)
    with torch.no_grad():
        ours = from_hf(model).eval()(ids)[0]
    assert metrics.perplexity(ours, ids, mask) == pytest.approx(math.exp(out.loss.item()), rel=1e-4)
    assert metrics.perplexity(ours, ids, mask) < 10  # a trained model on text of its own corpus


@pytest.mark.parametrize(
    "logits_shape,ids_shape,mask_shape",
    [
        ((2, 5), (2, 5), None),
        ((2, 5, 7), (2, 4), None),
        ((2, 5, 7), (10,), None),
        ((1, 1, 7), (1, 1), None),
        ((2, 5, 7), (2, 5), (2, 4)),
    ],
)
def test_perplexity_rejects_bad_shapes(logits_shape, ids_shape, mask_shape):
    mask = None if mask_shape is None else torch.ones(mask_shape, dtype=torch.long)
    with pytest.raises(ValueError):
        metrics.perplexity(torch.zeros(logits_shape), torch.zeros(ids_shape, dtype=torch.long), mask)


def test_perplexity_rejects_a_batch_with_nothing_to_score():
    mask = torch.tensor([[1, 0, 0], [1, 0, 0]])  # only first tokens, which are never predicted
    with pytest.raises(ValueError, match="masked"):
        metrics.perplexity(torch.zeros(2, 3, 5), torch.zeros(2, 3, dtype=torch.long), mask)


# ------------------------------------------------------------------ sliding window


def brute_force_window_perplexity(model, ids, max_length, stride):
    """Every token t >= 1 scored by the first window (starts 0, s, 2s, ...) that contains it."""
    N = ids.shape[1]
    nlls = []
    for t in range(1, N):
        begin = 0
        while begin + max_length <= t:  # the window [begin, begin + max_length) does not reach t
            begin += stride
        assert t - begin >= 1 and t - begin < max_length
        with torch.no_grad():
            logits = model(ids[:, begin:t]).logits[0, -1]  # predicts token t from ids[begin:t]
        nlls.append(-torch.log_softmax(logits, -1)[ids[0, t]].item())
    return math.exp(sum(nlls) / len(nlls))


@pytest.fixture(scope="module")
def long_ids():
    return torch.randint(50, (1, 41), generator=torch.Generator().manual_seed(3))


def test_one_window_equals_hugging_face_loss_on_the_whole_text(tiny, long_ids):
    expected = math.exp(hf_loss(tiny, long_ids).loss.item())
    for max_length, stride in [(41, 5), (64, 40), (100, 1)]:
        assert metrics.sliding_window_perplexity(tiny, long_ids, max_length, stride) == pytest.approx(
            expected, rel=1e-5
        )
        variants = metrics.sliding_window_perplexity_variants(tiny, long_ids, max_length, stride)
        assert variants == pytest.approx(
            dict.fromkeys(variants, expected), rel=1e-5
        )  # one window: no weighting to get wrong


@pytest.mark.parametrize("max_length,stride", [(8, 4), (8, 7), (8, 1), (5, 3), (16, 10), (2, 1)])
def test_sliding_window_equals_brute_force(tiny, long_ids, max_length, stride):
    expected = brute_force_window_perplexity(tiny, long_ids, max_length, stride)
    assert metrics.sliding_window_perplexity(tiny, long_ids, max_length, stride) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "N,max_length,stride", [(41, 8, 4), (41, 8, 7), (40, 8, 4), (9, 8, 1), (100, 10, 3), (3, 2, 1)]
)
def test_every_token_after_the_first_is_scored_once_with_context(N, max_length, stride):
    ids = torch.randint(50, (1, N), generator=torch.Generator().manual_seed(N))
    windows = metrics.window_losses(lambda x: torch.zeros(*x.shape, 50), ids, max_length, stride)
    scored = [t for w in windows for t in range(w.end - w.scored, w.end)]
    assert scored == list(range(1, N))
    for w in windows:
        assert w.end - w.begin <= max_length and w.begin % stride == 0
        assert w.nll == pytest.approx(w.scored * math.log(50))  # uniform logits
        if w.begin > 0:
            assert w.end - w.scored - w.begin >= max_length - stride  # context before the first scored token


def hugging_face_guide(model, ids, max_length, stride):
    """The loop of "Perplexity of fixed-length models", with its weightings side by side."""
    seq_len = ids.size(1)
    nlls, weighted_minus_1, weighted, counts_minus_1, correct, counts = [], 0.0, 0.0, 0, 0.0, 0
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = ids[:, begin_loc:end_loc]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            loss = model(input_ids, labels=target_ids).loss.item()
        nlls.append(loss)  # the guide's mean over windows
        weighted += loss * trg_len  # an older guide: sum / end_loc
        weighted_minus_1 += loss * (trg_len - 1)  # the current guide: num_valid_tokens - batch_size
        counts_minus_1 += trg_len - 1
        n_scored = int((target_ids[:, 1:] != -100).sum())  # what the loss really averages over
        correct += loss * n_scored
        counts += n_scored
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return {
        "exact": math.exp(correct / counts),
        "mean_of_windows": math.exp(sum(nlls) / len(nlls)),
        "trg_len_minus_1": math.exp(weighted_minus_1 / counts_minus_1),
        "trg_len": math.exp(weighted / end_loc),
    }


@pytest.mark.parametrize("max_length,stride", [(8, 4), (16, 5), (20, 19)])
def test_variants_are_the_guides_numbers_and_differ_from_the_exact_one(tiny, long_ids, max_length, stride):
    variants = metrics.sliding_window_perplexity_variants(tiny, long_ids, max_length, stride)
    assert variants == pytest.approx(hugging_face_guide(tiny, long_ids, max_length, stride), rel=1e-5)
    assert variants["exact"] == pytest.approx(
        metrics.sliding_window_perplexity(tiny, long_ids, max_length, stride), rel=1e-12
    )
    for name in ("mean_of_windows", "trg_len_minus_1", "trg_len"):
        assert abs(variants[name] - variants["exact"]) > 1e-6, name


def test_sliding_window_accepts_the_course_gpt_and_runs_without_gradients(course_gpt):
    model, tokenizer = course_gpt
    ids = torch.tensor([tokenizer.encode(data.corpus_text("validation")[:1500])])
    expected = metrics.sliding_window_perplexity(model, ids, 128, 64)
    assert metrics.sliding_window_perplexity(from_hf(model).eval(), ids, 128, 64) == pytest.approx(expected, rel=1e-4)
    assert 1 < expected < 4  # about exp(0.8) on its validation text

    def no_grad_model(x):
        assert not torch.is_grad_enabled()
        return torch.zeros(*x.shape, 7)

    assert metrics.sliding_window_perplexity(no_grad_model, ids % 7, 10, 5) == pytest.approx(7)


@pytest.mark.parametrize(
    "shape,max_length,stride",
    [
        ((1, 20), 8, 9),
        ((1, 20), 8, 8),
        ((1, 20), 8, 0),
        ((1, 20), 1, 1),
        ((20,), 8, 4),
        ((2, 20), 8, 4),
        ((1, 1), 8, 4),
    ],
)
def test_sliding_window_rejects_bad_arguments(shape, max_length, stride):
    with pytest.raises(ValueError):
        metrics.sliding_window_perplexity(
            lambda x: torch.zeros(*x.shape, 5), torch.zeros(shape, dtype=torch.long), max_length, stride
        )


# ------------------------------------------------------------------ BLEU

WORDS = [
    "the",
    "The",
    "cat",
    "sat",
    "on",
    "mat",
    "a",
    "dog",
    "ran",
    "3.50",
    "1,000",
    "2-1",
    "$",
    "e.g.",
    "U.S.",
    "don't",
    "&amp;",
    "&quot;",
    "<skipped>",
    "Naïve",
    "café",
    "(yes)",
    "well,",
    "end.",
    "10-",
    "x-y",
    "!",
]
sentence = st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join)
corpus = st.lists(st.tuples(sentence, st.lists(sentence, min_size=1, max_size=3)), min_size=1, max_size=6)


def sacrebleu_score(hypotheses, references):
    """sacrebleu wants one stream per reference set; fewer references are padded with None."""
    k = max(len(refs) for refs in references)
    streams = [[refs[j] if j < len(refs) else None for refs in references] for j in range(k)]
    return sacrebleu.corpus_bleu(hypotheses, streams).score


@settings(max_examples=300, deadline=None)
@given(corpus)
def test_bleu_equals_sacrebleu_on_random_corpora(pairs):
    hypotheses = [h for h, _ in pairs]
    references = [refs for _, refs in pairs]
    assert metrics.bleu(hypotheses, references) == pytest.approx(
        sacrebleu_score(hypotheses, references), rel=1e-12, abs=1e-12
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(max_size=40), st.lists(st.text(max_size=40), min_size=1, max_size=2)), min_size=1, max_size=4
    )
)
def test_bleu_equals_sacrebleu_on_any_unicode(pairs):
    hypotheses = [h for h, _ in pairs]
    references = [refs for _, refs in pairs]
    assert metrics.bleu(hypotheses, references) == pytest.approx(
        sacrebleu_score(hypotheses, references), rel=1e-12, abs=1e-12
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | sentence)
def test_13a_tokenizer_equals_sacrebleus(line):
    assert metrics.tokenize_13a(line) == Tokenizer13a()(line.rstrip()).split()


def test_bleu_known_values():
    assert metrics.bleu(["the cat sat on the mat"], [["the cat sat on the mat"]]) == pytest.approx(100)
    assert metrics.bleu(["the cat sat"], [["the cat sat"]]) == 0.0  # no 4-gram anywhere
    assert metrics.bleu([""], [["the cat sat on the mat"]]) == 0.0
    assert metrics.tokenize_13a("It costs $3.50, right?") == ["It", "costs", "$", "3.50", ",", "right", "?"]
    # a shorter hypothesis is penalised against the closest reference length (ties: the shorter one)
    hyp = "the cat sat on the mat"
    assert metrics.bleu([hyp], [["the cat sat on the mat today", "the cat sat on the mat"]]) == pytest.approx(100)
    assert metrics.bleu([hyp], [["the cat sat on the mat today ok"]]) == pytest.approx(100 * math.exp(1 - 8 / 6))


def test_bleu_pairs_hypotheses_with_their_references_where_sacrebleu_truncates():
    hypotheses = ["the cat sat on the mat", "a dog ran in the park"]
    # sacrebleu silently scores only the first line when the stream is too short
    assert sacrebleu.corpus_bleu(hypotheses, [["the cat sat on the mat"]]).score == pytest.approx(100)
    with pytest.raises(ValueError, match="2 hypotheses but 1"):
        metrics.bleu(hypotheses, [["the cat sat on the mat"]])
    for bad in ([[]], ["the cat sat on the mat"], [[None]]):
        with pytest.raises(ValueError):
            metrics.bleu(hypotheses[:1], bad)
    with pytest.raises(ValueError):
        metrics.bleu([], [])


# ------------------------------------------------------------------ ROUGE

ROUGE_WORDS = [
    "the",
    "The",
    "CAT",
    "cat",
    "sat",
    "mat",
    "a",
    "Naïve",
    "café",
    "3",
    "x-y",
    "don't",
    "ÉCOLE",
    "İs",
    "!",
    "...",
]
text = st.lists(st.sampled_from(ROUGE_WORDS), max_size=12).map(" ".join)
SCORER = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rouge3", "rouge4", "rougeL"], use_stemmer=False)


@settings(max_examples=300, deadline=None)
@given(text | st.text(max_size=40), text | st.text(max_size=40))
def test_rouge_equals_rouge_score(prediction, reference):
    expected = SCORER.score(reference, prediction)  # rouge-score takes the reference first
    for n in (1, 2, 3, 4):
        assert metrics.rouge_n(prediction, reference, n) == tuple(expected[f"rouge{n}"])
    assert metrics.rouge_l(prediction, reference) == tuple(expected["rougeL"])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_rouge_tokenizer_equals_rouge_scores(line):
    assert metrics.tokenize_rouge(line) == rouge_tokenize.tokenize(line, None)


def test_rouge_known_values():
    assert metrics.tokenize_rouge("Naïve café!") == ["na", "ve", "caf"]
    assert metrics.rouge_n("the cat the cat", "the cat sat", 1) == pytest.approx(
        (2 / 4, 2 / 3, 2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    )
    assert metrics.rouge_l("cat the sat", "the cat sat") == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert metrics.rouge_n("", "the cat", 1) == (0.0, 0.0, 0.0)
    assert metrics.rouge_l("the cat", "!!!") == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("args", [([], "a", 1), ("a", ["a"], 1), ("a", "a", 0), ("a", "a", 1.0), ("a", "a", True)])
def test_rouge_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        metrics.rouge_n(*args)
    if type(args[2]) is int and args[2] == 1:  # the texts are bad: rouge_l too
        with pytest.raises(ValueError):
            metrics.rouge_l(*args[:2])


# ------------------------------------------------------------------ multiple choice


def test_option_loglikelihoods_are_the_options_log_probabilities(course_gpt):
    model, tokenizer = course_gpt
    question = "Question: What is the opposite of hot?\nAnswer: The opposite of hot is"
    options = ["cold", "big", "very small indeed"]
    scores = metrics.option_loglikelihoods(model, tokenizer, question, options)
    n_context = len(tokenizer.encode(question))
    for option, score in zip(options, scores):
        ids = torch.tensor([tokenizer.encode(question + " " + option)])
        with torch.no_grad():
            log_probs = torch.log_softmax(model(ids).logits[0], -1)  # (T, V)
        expected = sum(log_probs[t - 1, ids[0, t]].item() for t in range(n_context, ids.shape[1]))
        assert score == pytest.approx(expected, abs=1e-4)
    assert scores[0] == max(scores)


def test_multiple_choice_accuracy_counts_acc_acc_norm_and_chance(course_gpt):
    model, tokenizer = course_gpt
    items = [
        metrics.QuizItem("Question: What is the opposite of hot?\nAnswer: The opposite of hot is", ["cold", "wet"], 0),
        metrics.QuizItem("Question: What colour is the sky?\nAnswer: The sky is", ["red", "blue", "green", "white"], 1),
        (
            "Question: What colour is the sky?\nAnswer: The sky is",
            ["blue", "red", "green", "white"],
            3,
        ),  # a plain tuple will do
    ]
    result = metrics.multiple_choice_accuracy(model, tokenizer, items)
    expected_acc = expected_norm = 0
    for question, options, answer in (item[:3] for item in items):
        scores = metrics.option_loglikelihoods(model, tokenizer, question, options)
        expected_acc += max(range(len(scores)), key=scores.__getitem__) == answer
        normed = [s / len(o) for s, o in zip(scores, options)]
        expected_norm += max(range(len(scores)), key=normed.__getitem__) == answer
    assert result == pytest.approx(
        {"acc": expected_acc / 3, "acc_norm": expected_norm / 3, "chance": (1 / 2 + 1 / 4 + 1 / 4) / 3, "n": 3}
    )
    assert result["acc"] == pytest.approx(2 / 3)  # it knows the two facts, so the third item is wrong


def test_corpus_quiz_items_are_well_formed_and_reproducible():
    items = metrics.corpus_quiz(300, seed=5)
    assert items == metrics.corpus_quiz(300, seed=5) and items != metrics.corpus_quiz(300, seed=6)
    assert len(items) == 300 and metrics.corpus_quiz(0) == []
    answers = [item.answer for item in items]
    assert set(answers) == {0, 1, 2, 3}
    assert {item.kind for item in items} == set(metrics.QUIZ_KINDS)
    for question, options, answer, kind in items:
        assert len(options) == len(set(options)) == 4 and not question.endswith(" ")
        assert question.startswith("Here are") == (kind != "hero")
        if kind != "hero":
            word = re.search(r"opposite of (\w+)\?", question)
            if word:
                assert options[answer] == data.OPPOSITES[word.group(1)]
            sum_ = re.search(r"What is (\d) plus (\d)\?", question)
            if sum_:
                assert options[answer] == str(int(sum_.group(1)) + int(sum_.group(2)))
        else:  # a story: the answer is its hero
            assert question.endswith("\n\nIn the end,")
            assert re.search(r" named (\w+)\.", question).group(1) == options[answer]


def test_course_gpt_beats_chance_on_the_corpus_quiz(course_gpt):
    model, tokenizer = course_gpt
    result = metrics.multiple_choice_accuracy(model, tokenizer, metrics.corpus_quiz(100, seed=0))
    assert result["chance"] == 0.25 and result["n"] == 100
    assert result["acc"] > 0.5 and result["acc_norm"] > 0.5, result
