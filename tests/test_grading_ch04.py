"""Chapter 04's checks in the student's kernel: messages that name the mistake, forbidden routes
caught (the course's reference, sacrebleu and rouge-score under any name), the grader's oracles
agreeing with the course's reference, and cases cheap enough to grade in a couple of seconds."""

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcourse import metrics, text_metrics
from llmcourse.grading import GradingError, ch04
from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.contract import check, float_of, items_of, mistake_answer
from llmcourse.grading.guards import scan_source

ALTERNATIVE_CODE = alternatives_of(
    "04_evaluating_llms"
)  # autograde/alternatives/: valid answers, never shipped to students


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
    "score_choices": ch04.check_score_choices,
    "accuracy": ch04.check_accuracy,
}


# ---------------------------------------------------------------- feedback names the mistake


@pytest.mark.parametrize(
    "key, mistake_id",
    [
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
        ("score_choices", "own_position"),
        ("score_choices", "no_teacher_forcing"),
        ("score_choices", "list_of_tensors"),
        ("accuracy", "norm_by_bytes"),
        ("accuracy", "last_on_tie"),
    ],
)
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
    return (
        sacrebleu.metrics.BLEU()
        .corpus_score(hypotheses, [[r[j] if j < len(r) else None for r in references] for j in range(k)])
        .score
    )


def bleu_course(hypotheses, references):
    return text_metrics.bleu(hypotheses, references)


def rouge_scorer_n(prediction, reference, n):
    from rouge_score import rouge_scorer as rs

    score = rs.RougeScorer([f"rouge{n}"]).score(reference, prediction)[f"rouge{n}"]
    return score.precision, score.recall, score.fmeasure


def rouge_l_course(prediction, reference):
    return metrics.rouge_l(prediction, reference)


def score_choices_course(logits_fn, context_ids, choice_ids):
    return metrics.score_choices(logits_fn, context_ids, choice_ids)


def accuracy_course(items):
    return metrics.accuracy(items)


@pytest.mark.parametrize(
    "key, fn, used",
    [
        ("perplexity", ppl_course, "llmcourse.metrics.perplexity"),
        ("perplexity", ppl_course_swallowed, "llmcourse.metrics.perplexity"),
        ("sliding_window", window_course, "llmcourse.metrics.window_losses"),
        ("bleu", bleu_alias, "corpus_bleu"),
        ("bleu", bleu_class, "sacrebleu"),
        ("bleu", bleu_course, "llmcourse.text_metrics.bleu"),
        ("rouge_n", rouge_scorer_n, "RougeScorer"),
        ("rouge_l", rouge_l_course, "llmcourse.text_metrics.rouge_l"),
        ("score_choices", score_choices_course, "llmcourse.metrics.score_choices"),
        ("accuracy", accuracy_course, "llmcourse.metrics.accuracy"),
    ],
)
def test_forbidden_routes_are_caught_and_named(key, fn, used):
    with pytest.raises(GradingError, match=f"must be written by you.*{used}"):
        CHECKS[key](fn)
    assert metrics.perplexity(torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.long)) == pytest.approx(3.0), (
        "the reference works afterwards"
    )
    assert text_metrics.bleu(["a b c d"], [["a b c d"]]) == pytest.approx(100.0)


@pytest.mark.parametrize(
    "key, source, found",
    [
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
        ("accuracy", "from lm_eval.api.task import ConfigurableTask", "lm_eval"),
        ("score_choices", "from llmcourse.metrics import encode_choices", "llmcourse.metrics"),
    ],
)
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
        assert ch04._sw_oracle(model, ids, max_length, stride) == pytest.approx(expected, rel=1e-5), (
            N,
            max_length,
            stride,
        )


def test_every_case_agrees_with_the_reference():
    """The expected value of every case (sacrebleu, rouge-score, cross_entropy, brute force)
    equals what llmcourse.metrics computes on the same inputs."""
    from llmcourse.grading.contract import float_of, items_of

    for case in ch04.PERPLEXITY.cases(True):
        logits, ids, mask = case.inputs
        assert float_of(case.expected) == pytest.approx(metrics.perplexity(logits, ids, mask), rel=1e-6), case.label
    for case in ch04.SLIDING_WINDOW.cases(True):
        model = ch04.tiny_model(case.inputs["state"])
        got = metrics.sliding_window_perplexity(
            model, case.inputs["input_ids"], case.inputs["max_length"], case.inputs["stride"]
        )
        assert float_of(case.expected) == pytest.approx(got, rel=1e-5), case.label
    for case in ch04.BLEU.cases(True):
        hypotheses, references, should_raise = case.inputs
        if should_raise:
            with pytest.raises(ValueError):
                metrics.bleu(hypotheses, references)
        else:
            assert float_of(case.expected) == pytest.approx(metrics.bleu(hypotheses, references), rel=1e-9, abs=1e-9), (
                case.label
            )
    for exercise, reference in [(ch04.ROUGE_N, metrics.rouge_n), (ch04.ROUGE_L, metrics.rouge_l)]:
        for case in exercise.cases(True):
            prediction, ref_text, n = case.inputs
            got = reference(prediction, ref_text, n) if n is not None else reference(prediction, ref_text)
            assert [float_of(x) for x in items_of(case.expected, "", 3)] == pytest.approx(list(got), rel=1e-12), (
                case.label
            )


def test_bleu_and_rouge_oracles_equal_the_reference_on_random_text():
    rng = random.Random(2)
    for _ in range(100):
        hypotheses, references = ch04._bleu_random(rng, rng.randint(1, 6), rng.randint(1, 3))
        assert ch04._bleu_oracle(hypotheses, references).score == pytest.approx(
            metrics.bleu(hypotheses, references), rel=1e-9, abs=1e-9
        )
        prediction, reference = ch04._rouge_random(rng, rng.randint(0, 25))
        for n in (1, 2, 3):
            assert ch04._rouge_oracle(prediction, reference, f"rouge{n}") == pytest.approx(
                metrics.rouge_n(prediction, reference, n), rel=1e-12
            )
        assert ch04._rouge_oracle(prediction, reference, "rougeL") == pytest.approx(
            metrics.rouge_l(prediction, reference), rel=1e-12
        )


# ---------------------------------------------------------------- cheap enough to grade


# About 1.5 s with the cases (computed once per grading run) on one CPU core: pytest-timeout's limit is
# a generous guard against a slow or hung check that a loaded machine does not trip, unlike a wall-clock
# assertion.
@pytest.mark.timeout(30)
def test_the_whole_chapter_is_checked_in_a_couple_of_seconds():
    for exercise in ch04.EXERCISES.values():
        exercise.cases(True)  # computed once per grading run
    for key, exercise in ch04.EXERCISES.items():
        check(exercise, GOOD[key], hidden=True, quiet=True)


def test_checks_leave_the_students_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    ch04.check_sliding_window_perplexity(GOOD["sliding_window"])
    assert torch.equal(torch.get_rng_state(), before)


# ---------------------------------------------------------------- alternatives on random text

WORDS = [
    "the",
    "The",
    "cat",
    "sat",
    "on",
    "mat",
    "a",
    "dog",
    "3.50",
    "1,000",
    "2-1",
    "$",
    "U.S.",
    "don't",
    "&amp;",
    "(yes)",
    "well,",
    "end.",
    "!",
    "Naïve",
    "café",
    "CAT",
]
sentence = st.lists(st.sampled_from(WORDS), max_size=10).map(" ".join)
corpus = st.lists(st.tuples(sentence, st.lists(sentence, min_size=1, max_size=3)), min_size=1, max_size=5)
text = sentence | st.text(max_size=30)
ALTERNATIVES = {
    key: [answer(exercise, code) for code in ALTERNATIVE_CODE[key]] for key, exercise in ch04.EXERCISES.items()
}


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


# ---------------------------------------------------------------- multiple choice: score_choices and accuracy


def test_score_choices_oracle_equals_the_reference_and_a_token_by_token_count():
    """The grader's float64 loss with the context labelled -100 equals llmcourse.metrics.score_choices (one
    padded batch) and each token's log-probability summed from a forward pass over its own prefix."""
    for case in ch04.SCORE_CHOICES.cases(True):
        model = ch04.tiny_model(case.inputs["state"])
        context, choices = case.inputs["context"], case.inputs["choices"]
        expected = [float_of(x) for x in items_of(case.expected, "", len(choices))]
        with torch.no_grad():
            reference = metrics.score_choices(lambda ids: model(ids).logits, context, choices)  # noqa: B023 (called now)
            by_token = [
                sum(
                    torch.log_softmax(model(torch.tensor([context + c[:k]])).logits[0, -1].double(), -1)[c[k]].item()
                    for k in range(len(c))
                )
                for c in choices
            ]
        assert reference == pytest.approx(expected, abs=1e-4), case.label
        assert by_token == pytest.approx(expected, abs=1e-4), case.label


def test_score_choices_cases_tell_the_mistakes_apart_by_far_more_than_the_tolerance():
    """Every catalogued mistake misses each visible case it fails by more than 0.05 (the tolerance is 1e-4)."""
    for wrong in ch04.SCORE_CHOICES.mistakes:
        fn = mistake_answer(ch04.SCORE_CHOICES, wrong)
        gaps = []
        for case in ch04.SCORE_CHOICES.cases(False):
            values = [float(v) for v in ch04.SCORE_CHOICES.run(fn, case.inputs)]
            expected = [float_of(x) for x in items_of(case.expected, "", len(case.inputs["choices"]))]
            gaps.append(max(abs(a - b) for a, b in zip(values, expected)))
        failing = [g for g in gaps if g > 1e-4]
        assert all(g > 0.05 for g in failing), (wrong.id, gaps)


def test_accuracy_oracle_equals_the_reference_on_random_items():
    rng = random.Random(3)
    for case in ch04.ACCURACY.cases(True):
        expected = {k: float_of(v) for k, v in case.expected["dict"].items()}
        assert metrics.accuracy(case.inputs) == pytest.approx(expected, abs=1e-12), case.label
    for _ in range(200):
        items = ch04._acc_random(rng, rng.randint(1, 20))
        items += [([-1.0, -1.0], ["ab", "cd"], rng.randrange(2))]  # a tie in every metric
        assert metrics.accuracy(items) == pytest.approx(ch04._acc_oracle(items), abs=1e-12)


def test_accuracy_visible_cases_separate_characters_bytes_and_raw_scores():
    """The requirements' visible cases are built so that the three metrics disagree where they must."""
    acc_cases = [c for c in ch04.ACCURACY.cases(False)]
    values = {(c.subcheck, i): {k: float_of(v) for k, v in c.expected["dict"].items()} for i, c in enumerate(acc_cases)}
    assert any(v["acc"] != v["acc_norm"] for (sub, _), v in values.items() if sub == "acc")
    assert any(v["acc_norm"] != v["acc_bytes"] for (sub, _), v in values.items() if sub == "norm")
    assert any(v["acc_norm"] != v["acc_bytes"] for (sub, _), v in values.items() if sub == "bytes")
    tie = ch04._ACC_VISIBLE["acc"][0][2]
    assert tie[0][0] == tie[0][1] and tie[2] == 0  # a tie the first choice wins


def test_accuracy_oracle_is_lm_evals_own_process_results():
    """lm-eval's ConfigurableTask.process_results (multiple_choice) on the same items, when lm-eval is
    installed (it is not a dependency of the course)."""
    task_module = pytest.importorskip("lm_eval.api.task")

    class Task:  # the attributes process_results reads
        OUTPUT_TYPE = "multiple_choice"
        multiple_input = multiple_target = False
        _metric_fn_list = {"acc": None, "acc_norm": None, "acc_bytes": None}
        config = type("Config", (), {"process_results": None})()

        def __init__(self, choices, gold):
            self.choices, self.gold = choices, gold

        def doc_to_choice(self, doc):
            return self.choices

        def doc_to_target(self, doc):
            return self.gold

    for case in ch04.ACCURACY.cases(True):
        per_item = [
            task_module.ConfigurableTask.process_results(Task(choices, gold), {}, [(ll, False) for ll in lls])
            for lls, choices, gold in case.inputs
        ]
        means = {key: sum(r[key] for r in per_item) / len(per_item) for key in ("acc", "acc_norm", "acc_bytes")}
        assert means == pytest.approx({k: float_of(v) for k, v in case.expected["dict"].items()}), case.label


def test_a_tensor_of_scores_is_not_a_list_of_floats():
    def tensor_scores(logits_fn, context_ids, choice_ids):
        return torch.tensor(GOOD["score_choices"](logits_fn, context_ids, choice_ids))

    with pytest.raises(GradingError, match="1 of 2 requirements") as failure:
        check(ch04.SCORE_CHOICES, tensor_scores, hidden=True, quiet=True)
    assert "expected a list of Python floats" in str(failure.value)
    assert "Likely mistake: " + mistake(ch04.SCORE_CHOICES, "returns_tensor").message in str(failure.value)


def test_encode_choices_moves_the_trailing_space_into_the_option(course_gpt_tokenizer):
    tokenizer = course_gpt_tokenizer
    plain = metrics.encode_choices(tokenizer, "Answer: The opposite of hot is", ["cold", "wet"])
    spaced = metrics.encode_choices(tokenizer, "Answer: The opposite of hot is ", ["cold", "wet"], delimiter="")
    assert plain == spaced
    context, choices = plain
    assert tokenizer.decode(choices[0]) == " cold" and tokenizer.decode(context).endswith(" is")


@pytest.fixture(scope="module")
def course_gpt_tokenizer():
    from llmcourse import models

    return models.load("course-gpt")[1]
