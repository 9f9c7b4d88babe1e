"""Chapter 04's checks in the student's kernel: messages that name the mistake, forbidden routes
caught (the course's reference, sacrebleu and rouge-score under any name), the grader's oracles
agreeing with the course's reference, and cases cheap enough to grade in a couple of seconds."""
import math
import random
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcourse import metrics, text_metrics
from llmcourse.grading import GradingError, ch04
from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.contract import check, mistake_answer
from llmcourse.grading.guards import scan_source

ALTERNATIVE_CODE = alternatives_of("04_evaluating_llms")  # autograde/alternatives/: valid answers, never shipped to students


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small models run faster on one thread, as in the grader's student processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def answer(exercise, code):
    namespace = {}
    exec(code, namespace)
    return namespace[exercise.name]


def mistake(exercise, mistake_id):
    return next(m for m in exercise.mistakes if m.id == mistake_id)


GOOD = {key: answer(exercise, ALTERNATIVE_CODE[key][0]) for key, exercise in ch04.EXERCISES.items()}
CHECKS = {
    "perplexity": ch04.check_perplexity,
    "sliding_window": ch04.check_sliding_window_perplexity,
    "bleu": ch04.check_bleu,
    "rouge_n": ch04.check_rouge_n,
    "rouge_l": ch04.check_rouge_l,
}


# ---------------------------------------------------------------- feedback names the mistake


@pytest.mark.parametrize("key, mistake_id", [
    ("perplexity", "no_shift"),
    ("perplexity", "padding_counted"),
    ("perplexity", "mean_of_sequence_perplexities"),
    ("sliding_window", "average_per_window"),
    ("sliding_window", "trg_len_minus_1"),
    ("sliding_window", "rescores_overlap"),
    ("bleu", "no_brevity_penalty"),
    ("bleu", "no_count_check"),
    ("bleu", "whitespace_tokenization"),
    ("bleu", "tie_longer_reference"),
    ("perplexity", "returns_tensor"),
    ("rouge_n", "set_overlap"),
    ("rouge_n", "no_lowercasing"),
    ("rouge_l", "longest_common_substring"),
])
def test_visible_feedback_names_the_likely_mistake(key, mistake_id):
    exercise = ch04.EXERCISES[key]
    wrong = mistake(exercise, mistake_id)
    with pytest.raises(GradingError) as failure:
        CHECKS[key](mistake_answer(exercise, wrong))
    assert f"Likely mistake: {wrong.message}" in str(failure.value)


def test_messages_say_what_was_expected_for_which_inputs():
    with pytest.raises(GradingError) as failure:
        ch04.check_perplexity(mistake_answer(ch04.PERPLEXITY, mistake(ch04.PERPLEXITY, "divides_by_tokens")))
    text = str(failure.value)
    assert "logits (1, 6, 7), input_ids (1, 6), no attention_mask" in text and "expected" in text and "got" in text
    with pytest.raises(GradingError, match=r"bleu for hypotheses=\['the cat sat', 'a dog ran'\].*expected ValueError"):
        ch04.check_bleu(mistake_answer(ch04.BLEU, mistake(ch04.BLEU, "no_count_check")))


def test_partial_credit_follows_the_requirements():
    padding = mistake_answer(ch04.PERPLEXITY, mistake(ch04.PERPLEXITY, "padding_counted"))
    with pytest.raises(GradingError, match="1 of 3 requirements") as failure:
        check(ch04.PERPLEXITY, padding, hidden=True, quiet=True)
    assert "attention_mask is 0" in str(failure.value)

    def guide_style(model, input_ids, max_length, stride):  # correct, but only for Hugging Face models
        seq_len, nll, count, prev_end = input_ids.size(1), 0.0, 0, 0
        for begin in range(0, seq_len, stride):
            end = min(begin + max_length, seq_len)
            labels = input_ids[:, begin:end].clone()
            labels[:, : prev_end - begin] = -100
            with torch.no_grad():
                loss = model(input_ids[:, begin:end], labels=labels).loss
            n = int((labels[:, 1:] != -100).sum())
            nll, count, prev_end = nll + loss.item() * n, count + n, end
            if end == seq_len:
                break
        return math.exp(nll / count)

    with pytest.raises(GradingError, match="1 of 3 requirements") as failure:
        check(ch04.SLIDING_WINDOW, guide_style, hidden=True, quiet=True)
    assert "plain function" in str(failure.value) and "TypeError" in str(failure.value)


def test_unimplemented_stub_gets_a_clear_message():
    def stub(hypotheses, references):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented"):
        ch04.check_bleu(stub)


def test_a_tensor_result_fails_the_requirement_that_asks_for_a_python_float():
    """Acceptance run: a 0-dim tensor (torch.exp(loss)) passed as a number; the statement asks for a
    Python float, which the first requirement says. The other requirements judge the value only."""
    def tensor_perplexity(logits, input_ids, attention_mask=None):
        return torch.tensor(GOOD["perplexity"](logits, input_ids, attention_mask))

    with pytest.raises(GradingError, match="1 of 3 requirements") as failure:
        check(ch04.PERPLEXITY, tensor_perplexity, hidden=True, quiet=True)
    text = str(failure.value)
    assert "expected a Python float, got a 0-dim torch.Tensor: call .item()" in text
    assert "Likely mistake: " + mistake(ch04.PERPLEXITY, "returns_tensor").message in text

    def tensor_sliding_window(model, input_ids, max_length, stride):
        return torch.tensor(GOOD["sliding_window"](model, input_ids, max_length, stride))

    with pytest.raises(GradingError, match="expected a Python float, got a 0-dim torch.Tensor"):
        check(ch04.SLIDING_WINDOW, tensor_sliding_window, quiet=True)


def test_a_tie_between_reference_lengths_takes_the_shorter_one_visibly():
    """Acceptance run: taking the longer of two equally close references failed only a hidden case."""
    wrong = mistake(ch04.BLEU, "tie_longer_reference")
    with pytest.raises(GradingError) as failure:
        check(ch04.BLEU, mistake_answer(ch04.BLEU, wrong), quiet=True)
    assert "the shorter one on a tie" in str(failure.value) and f"Likely mistake: {wrong.message}" in str(failure.value)


# ---------------------------------------------------------------- forbidden routes


def ppl_course(logits, input_ids, attention_mask=None):
    return metrics.perplexity(logits, input_ids, attention_mask)


def ppl_course_swallowed(logits, input_ids, attention_mask=None):
    try:
        metrics.perplexity(logits, input_ids, attention_mask)
    except BaseException:  # noqa: BLE001 - a student hiding the call: caught on the way out
        pass
    return GOOD["perplexity"](logits, input_ids, attention_mask)


def window_course(model, input_ids, max_length, stride):
    windows = metrics.window_losses(model, input_ids, max_length, stride)
    return math.exp(sum(w.nll for w in windows) / sum(w.scored for w in windows))


def bleu_alias(hypotheses, references):
    from sacrebleu import corpus_bleu as score  # an alias: still caught

    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError("counts")
    k = max(len(r) for r in references)
    return score(hypotheses, [[r[j] if j < len(r) else None for r in references] for j in range(k)]).score


def bleu_class(hypotheses, references):
    import sacrebleu.metrics

    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError("counts")
    k = max(len(r) for r in references)
    return sacrebleu.metrics.BLEU().corpus_score(hypotheses, [[r[j] if j < len(r) else None for r in references] for j in range(k)]).score


def bleu_course(hypotheses, references):
    return text_metrics.bleu(hypotheses, references)


def rouge_scorer_n(prediction, reference, n):
    from rouge_score import rouge_scorer as rs

    score = rs.RougeScorer([f"rouge{n}"]).score(reference, prediction)[f"rouge{n}"]
    return score.precision, score.recall, score.fmeasure


def rouge_l_course(prediction, reference):
    return metrics.rouge_l(prediction, reference)


@pytest.mark.parametrize("key, fn, used", [
    ("perplexity", ppl_course, "llmcourse.metrics.perplexity"),
    ("perplexity", ppl_course_swallowed, "llmcourse.metrics.perplexity"),
    ("sliding_window", window_course, "llmcourse.metrics.window_losses"),
    ("bleu", bleu_alias, "corpus_bleu"),
    ("bleu", bleu_class, "sacrebleu"),
    ("bleu", bleu_course, "llmcourse.text_metrics.bleu"),
    ("rouge_n", rouge_scorer_n, "RougeScorer"),
    ("rouge_l", rouge_l_course, "llmcourse.text_metrics.rouge_l"),
])
def test_forbidden_routes_are_caught_and_named(key, fn, used):
    with pytest.raises(GradingError, match=f"must be written by you.*{used}"):
        CHECKS[key](fn)
    assert metrics.perplexity(torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.long)) == pytest.approx(3.0), "the reference works afterwards"
    assert text_metrics.bleu(["a b c d"], [["a b c d"]]) == pytest.approx(100.0)


@pytest.mark.parametrize("key, source, found", [
    ("bleu", "import sacrebleu as sb\nscore = sb.corpus_bleu(h, r)", "sacrebleu"),
    ("bleu", "from sacrebleu.metrics import BLEU", "sacrebleu"),
    ("bleu", "import sacrebleu.metrics.bleu as b", "sacrebleu"),
    ("rouge_n", "from rouge_score.rouge_scorer import RougeScorer as R", "rouge_score"),
    ("bleu", "from nltk.translate.bleu_score import corpus_bleu", "nltk"),
    ("bleu", "from llmcourse.text_metrics import ngrams", "llmcourse.text_metrics"),
    ("perplexity", "from llmcourse import metrics\np = metrics.perplexity(l, i)", "llmcourse.metrics"),
    ("sliding_window", "import llmcourse\nw = llmcourse.metrics.window_losses(m, i, 8, 4)", "window_losses"),
    ("sliding_window", "from llmcourse.train import document_cross_entropy", "llmcourse.train"),
    ("rouge_n", "from rouge_score import rouge_scorer", "rouge_score"),
    ("rouge_l", "s = scorer.RougeScorer(['rougeL'])", "RougeScorer"),
])
def test_the_source_layer_reads_forbidden_names(key, source, found):
    hits = scan_source(source, ch04.EXERCISES[key].forbidden.names)
    assert hits and any(found in hit for hit in hits), hits


def test_the_solution_cells_pass_the_source_layer():
    """The given tokenize_13a, the docstrings and the solutions use no forbidden name."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "solutions" / "04_evaluating_llms.ipynb").read_text())
    cells = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"]) for c in nb["cells"]}
    for exercise in ch04.EXERCISES.values():
        assert scan_source(cells[exercise.cell], exercise.forbidden.names) == [], exercise.name


# ---------------------------------------------------------------- oracles vs the course's reference


def test_perplexity_oracle_equals_the_reference_on_random_batches():
    rng = random.Random(0)
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        B, T, V = rng.randint(1, 5), rng.randint(2, 20), rng.randint(2, 60)
        logits = torch.randn(B, T, V, generator=g) * rng.uniform(0.1, 5)
        ids = torch.randint(0, V, (B, T), generator=g)
        lengths = [rng.randint(1, T) for _ in range(B)]
        lengths[0] = T  # at least one target counts
        mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).long()
        assert ch04._ppl_oracle(logits, ids, mask) == pytest.approx(metrics.perplexity(logits, ids, mask), rel=1e-6)
        assert ch04._ppl_oracle(logits, ids, None) == pytest.approx(metrics.perplexity(logits, ids), rel=1e-6)


def test_sliding_window_oracle_equals_the_reference_on_random_texts():
    rng = random.Random(1)
    model = ch04.tiny_model(seed=7)
    for seed in range(6):
        N, max_length = rng.randint(2, 40), rng.randint(2, 20)
        stride = rng.randint(1, max_length - 1)
        ids = torch.randint(0, 50, (1, N), generator=torch.Generator().manual_seed(seed))
        expected = metrics.sliding_window_perplexity(model, ids, max_length, stride)
        assert ch04._sw_oracle(model, ids, max_length, stride) == pytest.approx(expected, rel=1e-5), (N, max_length, stride)


def test_every_case_agrees_with_the_reference():
    """The expected value of every case (sacrebleu, rouge-score, cross_entropy, brute force)
    equals what llmcourse.metrics computes on the same inputs."""
    from llmcourse.grading.contract import float_of, items_of

    for case in ch04.PERPLEXITY.cases(True):
        logits, ids, mask = case.inputs
        assert float_of(case.expected) == pytest.approx(metrics.perplexity(logits, ids, mask), rel=1e-6), case.label
    for case in ch04.SLIDING_WINDOW.cases(True):
        model = ch04.tiny_model(case.inputs["state"])
        got = metrics.sliding_window_perplexity(model, case.inputs["input_ids"], case.inputs["max_length"], case.inputs["stride"])
        assert float_of(case.expected) == pytest.approx(got, rel=1e-5), case.label
    for case in ch04.BLEU.cases(True):
        hypotheses, references, should_raise = case.inputs
        if should_raise:
            with pytest.raises(ValueError):
                metrics.bleu(hypotheses, references)
        else:
            assert float_of(case.expected) == pytest.approx(metrics.bleu(hypotheses, references), rel=1e-9, abs=1e-9), case.label
    for exercise, reference in [(ch04.ROUGE_N, metrics.rouge_n), (ch04.ROUGE_L, metrics.rouge_l)]:
        for case in exercise.cases(True):
            prediction, ref_text, n = case.inputs
            got = reference(prediction, ref_text, n) if n is not None else reference(prediction, ref_text)
            assert [float_of(x) for x in items_of(case.expected, "", 3)] == pytest.approx(list(got), rel=1e-12), case.label


def test_bleu_and_rouge_oracles_equal_the_reference_on_random_text():
    rng = random.Random(2)
    for _ in range(100):
        hypotheses, references = ch04._bleu_random(rng, rng.randint(1, 6), rng.randint(1, 3))
        assert ch04._bleu_oracle(hypotheses, references).score == pytest.approx(metrics.bleu(hypotheses, references), rel=1e-9, abs=1e-9)
        prediction, reference = ch04._rouge_random(rng, rng.randint(0, 25))
        for n in (1, 2, 3):
            assert ch04._rouge_oracle(prediction, reference, f"rouge{n}") == pytest.approx(metrics.rouge_n(prediction, reference, n), rel=1e-12)
        assert ch04._rouge_oracle(prediction, reference, "rougeL") == pytest.approx(metrics.rouge_l(prediction, reference), rel=1e-12)


# ---------------------------------------------------------------- cheap enough to grade


def test_the_whole_chapter_is_checked_in_a_couple_of_seconds():
    for exercise in ch04.EXERCISES.values():
        exercise.cases(True)  # computed once per grading run
    start = time.perf_counter()
    for key, exercise in ch04.EXERCISES.items():
        check(exercise, GOOD[key], hidden=True, quiet=True)
    assert time.perf_counter() - start < 5


def test_checks_leave_the_students_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    ch04.check_sliding_window_perplexity(GOOD["sliding_window"])
    assert torch.equal(torch.get_rng_state(), before)


# ---------------------------------------------------------------- alternatives on random text

WORDS = ["the", "The", "cat", "sat", "on", "mat", "a", "dog", "3.50", "1,000", "2-1", "$", "U.S.", "don't", "&amp;", "(yes)",
         "well,", "end.", "!", "Naïve", "café", "CAT"]
sentence = st.lists(st.sampled_from(WORDS), max_size=10).map(" ".join)
corpus = st.lists(st.tuples(sentence, st.lists(sentence, min_size=1, max_size=3)), min_size=1, max_size=5)
text = sentence | st.text(max_size=30)
ALTERNATIVES = {key: [answer(exercise, code) for code in ALTERNATIVE_CODE[key]] for key, exercise in ch04.EXERCISES.items()}


@settings(max_examples=100, deadline=None)
@given(corpus)
def test_bleu_alternatives_agree_with_sacrebleu(pairs):
    hypotheses, references = [h for h, _ in pairs], [r for _, r in pairs]
    expected = ch04._bleu_oracle(hypotheses, references).score
    for fn in ALTERNATIVES["bleu"]:
        assert fn(hypotheses, references) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(text, text)
def test_rouge_alternatives_agree_with_rouge_score(prediction, reference):
    for n in (1, 2, 3):
        expected = ch04._rouge_oracle(prediction, reference, f"rouge{n}")
        for fn in ALTERNATIVES["rouge_n"]:
            assert fn(prediction, reference, n) == pytest.approx(expected, rel=1e-12)
    expected = ch04._rouge_oracle(prediction, reference, "rougeL")
    for fn in ALTERNATIVES["rouge_l"]:
        assert fn(prediction, reference) == pytest.approx(expected, rel=1e-12)
