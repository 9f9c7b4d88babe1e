"""Chapter 05's checks: messages that name the mistake, forbidden routes caught (in the kernel and
through the engine), oracles that agree with the course's reference, and cases that keep clear
of floating-point ties so that any correct answer passes."""

import functools
from pathlib import Path

import nbformat
import pytest
import torch

from llmcourse import decoding as reference
from llmcourse import gpt
from llmcourse.grading import GradingError, ch05
from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.contract import array_of, check, failure_of, mistake_answer, to_plain
from llmcourse.grading.guards import scan_source

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "05_controlling_outputs"
ALTERNATIVE_CODE = alternatives_of(CHAPTER)  # autograde/alternatives/: valid answers, never shipped to students
REFERENCE = {  # exercise key -> the course's reference answer
    "temperature": reference.apply_temperature,
    "top_k": reference.top_k_filter,
    "top_p": reference.top_p_filter,
    "repetition_penalty": reference.apply_repetition_penalty,
    "frequency_presence": reference.apply_frequency_presence_penalties,
    "greedy": reference.greedy_decode,
    "cached": reference.generate_with_cache,
    "beam_search": reference.beam_search,
    "generate_until": reference.generate_until,
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The models are tiny: one thread is faster, and far faster when other processes share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def answer(exercise, code):
    namespace = {}
    exec(code, namespace)  # noqa: S102 - the course's own answers
    return namespace[exercise.name]


# ---------------------------------------------------------------- oracles and the reference


@pytest.mark.parametrize("key", list(ch05.EXERCISES))
def test_the_oracle_agrees_with_the_reference_on_every_case(key):
    """Hugging Face (or the loop) and llmcourse.decoding, written independently, agree."""
    exercise = ch05.EXERCISES[key]
    for case in exercise.cases(True):
        got = to_plain(exercise.run(REFERENCE[key], case.inputs))
        assert failure_of(exercise, case, got) is None, (key, case.label, failure_of(exercise, case, got))


@pytest.mark.parametrize("B, V, seed", [(1, 2, 0), (2, 3, 1), (5, 64, 2), (1, 257, 3), (8, 1000, 4)])
def test_the_processor_oracles_agree_with_the_reference_on_random_inputs(B, V, seed):
    logits = ch05.random_logits(B, V, seed)
    ids = ch05.repeated_ids(B, V, seed, T=11)

    def same(a, b):
        return torch.equal(a.isinf(), b.isinf()) and torch.allclose(a[a.isfinite()], b[b.isfinite()], atol=1e-6)

    for t in (0.3, 1.0, 4.0):
        assert same(ch05._temperature_oracle(logits.clone(), t), reference.apply_temperature(logits, t))
    for k in (1, 2, 7, V + 3):
        assert same(ch05._top_k_oracle(logits.clone(), k), reference.top_k_filter(logits, k))
    for p in (0.0, 0.3, 0.8, 0.97):
        if ch05._nucleus_margin(logits, p) > 1e-5:
            assert same(ch05._top_p_oracle(logits.clone(), p), reference.top_p_filter(logits, p))
    for penalty in (0.7, 1.0, 1.6):
        assert same(
            ch05._repetition_oracle(logits.clone(), ids, penalty),
            reference.apply_repetition_penalty(logits, ids, penalty),
        )
    for fp, pp in [(0.5, 0.0), (0.0, 0.5), (0.4, -0.3)]:
        assert same(
            ch05.frequency_presence_loop(logits, ids, fp, pp),
            reference.apply_frequency_presence_penalties(logits, ids, fp, pp),
        )


def test_the_raising_cases_raise_in_hugging_face_and_the_reference():
    for key in ("temperature", "top_k"):
        exercise = ch05.EXERCISES[key]
        raising = [c for c in exercise.cases(True) if c.subcheck == "raises"]
        assert raising and all(c.expected == to_plain({"raised": "ValueError"}) for c in raising)
        for case in raising:
            with pytest.raises(ValueError):
                REFERENCE[key](*case.inputs["args"])


def test_top_p_cases_keep_clear_of_the_threshold():
    """A correct answer summing from the other end, or in float64, keeps the same tokens."""
    for case in ch05.TOP_P.cases(True):
        logits, p = case.inputs["args"]
        if 0 < p < 1:
            assert ch05._nucleus_margin(logits, p) > 1e-4, case.label
        if (
            p == 1
        ):  # every token stays, however a running total rounds (the long-tail cases check that it is not trusted)
            assert not ch05._top_p_oracle(logits.clone(), p).isinf().any(), case.label


def test_the_long_tail_top_p_case_rounds_a_running_total_to_1():
    """p = 1 on logits with a long tail (as a real model's): a float32 running total reaches 1.0
    before the last token, so an answer that trusts it removes tokens."""
    case = next(
        c for c in ch05.TOP_P.cases(False) if c.inputs["args"][1] == 1.0 and c.inputs["args"][0].shape[-1] == 1000
    )
    probs = torch.softmax(case.inputs["args"][0], dim=-1).sort(dim=-1, descending=True).values
    assert bool(((probs.cumsum(dim=-1) - probs) >= 1.0).any())


def _beam_margins(model, prompt, N, n):
    """The smallest score gap, along the search, between the last kept and the first dropped
    candidate, and between the best two beams at the end (float32, as generate computes them)."""
    beams, scores, gaps = prompt[None], torch.zeros(1), []
    with torch.no_grad():
        for _ in range(n):
            log_probs = torch.log_softmax(model(beams).logits[:, -1].float(), dim=-1)  # (beams, V)
            V = log_probs.shape[-1]
            top, index = (scores[:, None] + log_probs).flatten().topk(N + 1)
            gaps.append(float(top[N - 1] - top[N]))
            scores, index = top[:N], index[:N]
            beams = torch.cat([beams[index // V], (index % V)[:, None]], dim=1)
    if N > 1:
        gaps.append(float(scores[0] - scores[1]))
    return min(gaps)


def test_decoder_cases_keep_clear_of_near_ties():
    """Greedy and beam decisions differ from the next best by far more than the float error of
    recomputing the sequence instead of using a KV cache."""
    for case in ch05.GREEDY.cases(True):
        model = ch05.tiny_model(*case.inputs["model"])
        with torch.no_grad():
            expected = torch.tensor(array_of(case.expected))
            logits = model(expected).logits[:, case.inputs["ids"].shape[1] - 1 : -1].float()  # (B, n, V)
        top2 = logits.topk(2, dim=-1).values
        assert float((top2[..., 0] - top2[..., 1]).min()) > 1e-4, case.label
    for case in ch05.CACHED.cases(True):  # a cached step's logits differ from a recomputation's by float rounding
        model = ch05.tiny_model(*case.inputs["model"])
        expected = torch.tensor(array_of(ch05._fields(case.expected)["ids"]))
        T = case.inputs["ids"].shape[1]
        if expected.shape[1] == T:
            continue  # max_new_tokens=0: no decision
        with torch.no_grad():
            top2 = model(expected).logits[:, T - 1 : -1].float().topk(2, dim=-1).values
        assert float((top2[..., 0] - top2[..., 1]).min()) > 1e-4, case.label
    for case in ch05.BEAM.cases(True):
        model = ch05.tiny_model(*case.inputs["model"])
        for prompt in case.inputs["ids"]:
            margin = _beam_margins(model, prompt, case.inputs["num_beams"], case.inputs["max_new_tokens"])
            assert margin > 1e-4, (case.label, margin)


def test_the_long_beam_case_underflows_a_product_of_probabilities():
    case = next(c for c in ch05.BEAM.cases(False) if c.subcheck == "long")
    model = ch05.tiny_model(*case.inputs["model"])
    ids = torch.tensor(array_of(case.expected))
    T = case.inputs["ids"].shape[1]
    with torch.no_grad():
        probs = model(ids).logits[0, T - 1 : -1].float().softmax(-1).gather(-1, ids[0, T:, None])
    assert float(probs.prod()) == 0.0 and float(probs.log().sum()) > -200, "the product underflows, the sum does not"


def test_stop_string_cases_exercise_what_they_claim():
    cases = {(c.inputs["prompt"], str(c.inputs["stop"])): c.expected for c in ch05.UNTIL.cases(False)}
    assert cases[(ch05.ANNA, "\nAnna:")] == " Hi, Anna! How are you?"
    assert cases[(ch05.ANNA, "nna:")].endswith("\nA"), "the stop string starts inside a token"
    assert cases[(ch05.ANNA, "['nn', 'Anna']")] == " Hi, ", "the earliest of two stop strings completed by one token"
    assert "Ben:" in ch05.ANNA and cases[(ch05.ANNA, "Ben:")].count("\n") >= 2, (
        "the prompt's own stop string does not count"
    )
    assert cases[(ch05.HANA, "zebra")] == " Hana! See you soon.", "the end-of-text token comes first"


def test_the_sampler_case_matches_the_course_samplers_tokens():
    """The oracle's seeded sampling (Hugging Face's generate after torch.manual_seed) draws the
    same tokens as the seeded hook handed to the answer, and as llmcourse.decoding.sample."""
    hf, tok = ch05.course_model()
    ours = gpt.from_hf(hf).eval()
    case = next(c for c in ch05.UNTIL.cases(False) if c.subcheck == "next_token")
    seed, temperature = case.inputs["sampler"]
    sampler = functools.partial(
        reference.sample, generator=torch.Generator().manual_seed(seed), temperature=temperature
    )
    assert (
        reference.generate_until(
            ours, tok, case.inputs["prompt"], case.inputs["stop"], case.inputs["max_new_tokens"], next_token=sampler
        )
        == case.expected
    )


# ---------------------------------------------------------------- feedback


UNTIL_SAMPLE = {
    "returns_stop_string",
    "token_level_match",
    "searches_prompt",
    "first_listed_not_earliest",
    "ignores_next_token",
}
NAMED = [(k, m) for k, e in ch05.EXERCISES.items() for m in e.mistakes if k != "generate_until" or m.id in UNTIL_SAMPLE]


@pytest.mark.parametrize("key, mistake", NAMED, ids=[f"{k}-{m.id}" for k, m in NAMED])
def test_feedback_names_the_likely_mistake(key, mistake):
    """Every catalogued mistake (a sample of the slower stop-string ones) fails the visible checks
    with its own message among the likely mistakes."""
    exercise = ch05.EXERCISES[key]
    with pytest.raises(GradingError) as failure:
        check(exercise, mistake_answer(exercise, mistake), quiet=True)
    assert f"Likely mistake: {mistake.message}" in str(failure.value)


def test_messages_show_what_differs():
    def fails(exercise, mistake_id, visible_only=True):
        mistake = next(m for m in exercise.mistakes if m.id == mistake_id)
        with pytest.raises(GradingError) as failure:
            check(exercise, mistake_answer(exercise, mistake), hidden=not visible_only, quiet=True)
        return str(failure.value)

    text = fails(ch05.TOP_K, "zero_disables")
    assert "expected a ValueError, but it returned torch.Tensor of shape (2, 9)" in text and "k=0" in text
    text = fails(ch05.TEMPERATURE, "modifies_input")
    assert "changed the logits passed to it" in text and "1 of 3 requirements" in text
    text = fails(ch05.CACHED, "full_recompute")
    assert "forward 2 of the model should get 1 token(s) and a cache of 5 positions; it got 6 token(s)" in text
    text = fails(ch05.CACHED, "extra_forward_after_last")
    assert "expected 10 forwards of the model (one per new token), it ran 11" in text
    text = fails(ch05.GREEDY, "drops_prompt")
    assert "expected shape (1, 20) (B, T + new tokens, prompt included), got (1, 15)" in text
    text = fails(ch05.BEAM, "sums_probabilities")
    assert "differs from position" in text and "expected row 0:" in text
    text = fails(ch05.UNTIL, "returns_stop_string")
    assert "expected ' Hi, Anna! How are you?'" in text and "got      ' Hi, Anna! How are you?\\nAnna:'" in text
    text = fails(ch05.TOP_P, "drops_crossing_token")
    assert "should be kept (logit" in text and "but got -inf; it keeps" in text
    text = fails(ch05.TOP_K, "keeps_k_plus_1")
    assert "should be removed (-inf) but got" in text


def test_unimplemented_stub_gets_a_clear_message():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for exercise in ch05.EXERCISES.values():
        with pytest.raises(GradingError, match="not implemented yet"):
            check(exercise, stub, quiet=True)


def test_odd_results_fail_with_a_message_not_a_crash():
    for exercise, odd in [
        (ch05.TOP_K, lambda logits, k: {"out": logits}),
        (ch05.GREEDY, lambda *a, **k: [[1, 2]]),
        (ch05.CACHED, lambda *a, **k: None),
        (ch05.UNTIL, lambda *a, **k: None),
        (ch05.TEMPERATURE, lambda logits, t: (logits / t).double().numpy()),
    ]:
        with pytest.raises(GradingError):
            check(exercise, odd, quiet=True)


# ---------------------------------------------------------------- forbidden routes


def top_k_hf(logits, k):
    from transformers.generation.logits_process import TopKLogitsWarper as Warper

    return Warper(k)(None, logits.clone())


def temperature_hf_list(logits, temperature):
    from transformers import LogitsProcessorList, TemperatureLogitsWarper

    return LogitsProcessorList([TemperatureLogitsWarper(temperature)])(None, logits.clone())


def top_p_course(logits, p):
    from llmcourse.decoding import top_p_filter as nucleus

    return nucleus(logits, p)


def top_p_course_swallowed(logits, p):
    try:
        reference.top_p_filter(logits, p)
    except BaseException:  # noqa: BLE001, S110 - hiding the call: caught on the way out
        pass
    return answer(ch05.TOP_P, ALTERNATIVE_CODE["top_p"][0])(logits, p)


def greedy_hf(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    return model.generate(
        input_ids, do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=eos_token_id, pad_token_id=pad_token_id
    )


def greedy_course_gpt(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    return gpt.from_hf(model).generate(input_ids, max_new_tokens, eos_token_id=eos_token_id)


def cached_hf(model, idx, max_new_tokens):
    return model.generate(idx, do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=None, pad_token_id=0)


def cached_course(model, idx, max_new_tokens):
    return reference.generate_with_cache(model, idx, max_new_tokens)


def beam_hf(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0):
    return model.generate(
        input_ids,
        num_beams=num_beams,
        do_sample=False,
        early_stopping=False,
        max_new_tokens=max_new_tokens,
        eos_token_id=None,
    )


def beam_course(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0):
    return reference.beam_search(model, input_ids, num_beams, max_new_tokens)


def until_course(model, tokenizer, prompt, stop, max_new_tokens, next_token=None):
    return reference.generate_until(model, tokenizer, prompt, stop, max_new_tokens, next_token)


@pytest.mark.parametrize(
    "exercise, fn, used",
    [
        (ch05.TOP_K, top_k_hf, "TopKLogitsWarper"),
        (ch05.TEMPERATURE, temperature_hf_list, "TemperatureLogitsWarper"),
        (ch05.TOP_P, top_p_course, "llmcourse.decoding.top_p_filter"),
        (ch05.TOP_P, top_p_course_swallowed, "llmcourse.decoding.top_p_filter"),
        (ch05.GREEDY, greedy_hf, "GenerationMixin.generate"),
        (ch05.GREEDY, greedy_course_gpt, "llmcourse.gpt.generate"),
        (ch05.CACHED, cached_hf, "GenerationMixin.generate"),
        (ch05.CACHED, cached_course, "llmcourse.decoding.generate_with_cache"),
        (ch05.BEAM, beam_hf, "GenerationMixin.generate"),
        (ch05.BEAM, beam_course, "llmcourse.decoding.beam_search"),
        (ch05.UNTIL, until_course, "llmcourse.decoding.generate_until"),
    ],
    ids=[
        "top_k-hf",
        "temperature-hf-list",
        "top_p-course",
        "top_p-course-swallowed",
        "greedy-generate",
        "greedy-course-gpt",
        "cached-generate",
        "cached-course",
        "beam-generate",
        "beam-course",
        "until-course",
    ],
)
def test_forbidden_routes_are_caught_and_named(exercise, fn, used):
    with pytest.raises(GradingError, match="must be written by you") as failure:
        check(exercise, fn, quiet=True)
    assert used in str(failure.value)


def test_forbidden_functions_work_again_after_a_check():
    with pytest.raises(GradingError):
        check(ch05.BEAM, beam_course, quiet=True)
    model = ch05.tiny_model(*ch05.PEAKED)
    ids = torch.zeros(1, 3, dtype=torch.long)
    out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=3, eos_token_id=None)
    assert torch.equal(out, reference.greedy_decode(model, ids, 3))


@pytest.mark.parametrize(
    "source",
    [
        "from llmcourse.decoding import top_k_filter",
        "from llmcourse import decoding",
        "import llmcourse.decoding as d",
        "from transformers.generation.logits_process import TopKLogitsWarper",
        "from transformers import TopPLogitsWarper",
        "w = transformers.generation.logits_process.RepetitionPenaltyLogitsProcessor(1.2)",
    ],
)
def test_the_source_scan_finds_forbidden_imports(source):
    assert scan_source(source, ch05.FORBIDDEN.names)


def test_the_solution_passes_every_check_and_its_source_is_clean():
    nb = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)
    namespace = {}
    exec("import torch\nfrom llmcourse.models import logits_fn", namespace)  # noqa: S102 - the set-up the answers use
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    for exercise in ch05.EXERCISES.values():
        source = cells[exercise.cell]
        assert not scan_source(source, exercise.forbidden.names), exercise.cell
        exec(source, namespace)  # noqa: S102 - the course's solution
        check(exercise, namespace[exercise.name], hidden=True, quiet=True)


# ---------------------------------------------------------------- through the engine


def test_forbidden_routes_score_zero_through_the_engine(tmp_path):
    """In the sandboxed process too (the decorated generate is caught through __wrapped__), and
    only in the exercises that use them. The course's reference is not even there while grading:
    its stand-in says so."""
    from llmcourse.grading.engine import Engine

    source = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)
    nb = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)
    routes = {
        "greedy": "def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):\n"
        "    return model.generate(input_ids, do_sample=False, max_new_tokens=max_new_tokens,\n"
        "                          eos_token_id=eos_token_id, pad_token_id=pad_token_id)\n",
        "top_k": "def top_k_filter(logits, k):\n"
        "    import llmcourse\n"
        "    return llmcourse.decoding.top_k_filter(logits, k)\n",
    }
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in routes:
            cell.source = routes[gid]
    path = tmp_path / f"{CHAPTER}.ipynb"
    nbformat.write(nb, path)
    (result,) = Engine({CHAPTER: source}).grade([("shortcut", CHAPTER, path)], progress=False)
    status = {e.name: (e.status, e.points, e.max_points) for e in result.exercises}
    assert status["greedy_decode"][:2] == ("forbidden", 0.0) and status["top_k_filter"][:2] == ("failed", 0.0), status
    others = [s for name, s in status.items() if name not in ("greedy_decode", "top_k_filter")]
    assert len(others) == 7 and all(s[0] == "passed" and s[1] == s[2] for s in others), status
    messages = {e.name: e.messages[0] for e in result.exercises if e.messages}
    assert (
        "GenerationMixin.generate" in messages["greedy_decode"]
        and "llmcourse.decoding.top_k_filter" in messages["top_k_filter"]
    )


# ---------------------------------------------------------------- each case judges its own requirement


def _how_the_stream_ends(case) -> str:
    """How the tokens generate produces for an until-case end: "stop", "eos" or "max"."""
    model, tok = ch05.course_model()
    ids = tok(case.inputs["prompt"], return_tensors="pt").input_ids
    n, sampler = case.inputs["max_new_tokens"], case.inputs["sampler"]
    kwargs = {"max_new_tokens": n, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.eos_token_id}
    if sampler is None:
        out = ch05._hf_generate(model, ids, do_sample=False, **kwargs)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sampler[0])
            out = ch05._hf_generate(
                model, ids, do_sample=True, temperature=sampler[1], top_k=None, top_p=None, **kwargs
            )
    new = out[0, ids.shape[1] :].tolist()
    stops = [case.inputs["stop"]] if isinstance(case.inputs["stop"], str) else case.inputs["stop"]
    for i in range(1, len(new) + 1):
        if new[i - 1] == tok.eos_token_id:
            return "eos"
        if any(s in tok.decode(new[:i]) for s in stops):
            return "stop"
    assert len(new) == n
    return "max"


def test_each_stop_string_case_ends_as_its_requirement_says():
    """Issue 16 item 3: the stop-string cases (hidden ones too) end at a stop string, the limits
    cases without one, and the next_token cases, as the visible one, at max_new_tokens: none of
    them judges what another requirement states."""
    allowed = {
        "stop": {"stop"},
        "mid_token": {"stop"},
        "several": {"stop"},
        "limits": {"eos", "max"},
        "next_token": {"max"},
    }
    for case in ch05.UNTIL.cases(True):
        assert _how_the_stream_ends(case) in allowed[case.subcheck], case.label
        if case.subcheck == "next_token":
            assert isinstance(case.inputs["stop"], list), "a list, as in the visible case"


def test_each_decoder_case_judges_its_own_requirement():
    """Greedy stops cases: every sequence ends before max_new_tokens, padded with 0 (the padding
    token given is eos_pad's). Beam long cases: one prompt (batches are the batch requirement's)."""
    for case in ch05.GREEDY.cases(True):
        if case.subcheck == "stops":
            T = case.inputs["ids"].shape[1]
            assert array_of(case.expected).shape[1] < T + case.inputs["max_new_tokens"] and case.inputs["pad"] == 0, (
                case.label
            )
    for case in ch05.BEAM.cases(True):
        if case.subcheck == "long":
            assert case.inputs["ids"].shape[0] == 1, case.label


def test_the_course_gpt_case_hands_the_answer_the_course_model():
    """The greedy no_eos case with the course's GPT: its forward returns a tuple (no .logits), and
    its tokens are the Hugging Face model's."""
    case = next(c for c in ch05.GREEDY.cases(False) if c.inputs["course_gpt"])
    seen = []

    def probe(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
        seen.append(model)
        return reference.greedy_decode(model, input_ids, max_new_tokens)

    got = to_plain(ch05.GREEDY.run(probe, case.inputs))
    assert isinstance(seen[0], gpt.GPT) and isinstance(seen[0](case.inputs["ids"]), tuple)
    assert failure_of(ch05.GREEDY, case, got) is None


def test_each_cached_case_judges_its_own_requirement():
    """generate_with_cache: tokens cases have one prompt (batches are the batch requirement's), batch cases
    several; prompt cases generate 0 or 1 token; cache cases expect the prompt, then single tokens with a
    cache that grows by one, one forward per new token; every case fits the model's 64 positions."""
    for case in ch05.CACHED.cases(True):
        B, T = case.inputs["ids"].shape
        n = case.inputs["max_new_tokens"]
        calls = ch05._pairs(ch05._fields(case.expected)["calls"])
        assert T + n <= 64, case.label
        assert len(calls) == n and (n == 0 or calls[0] == (T, 0)), case.label
        assert all(call == (1, T + i) for i, call in enumerate(calls[1:])), case.label
        if case.subcheck == "tokens":
            assert B == 1 and n >= 12, case.label
        if case.subcheck == "batch":
            assert B > 1, case.label
        if case.subcheck == "prompt":
            assert n in (0, 1), case.label
    assert {c.subcheck for c in ch05.CACHED.cases(False)} == {s.id for s in ch05.CACHED.subchecks}


def test_the_cached_runner_records_every_forward():
    """The wrapped model records (tokens, cached positions) for a fresh cache object, a returned one and none,
    gives the model's own logits, and its generate is the model's (so that the guard can name it)."""
    from transformers import DynamicCache

    from llmcourse.grading.runners.ch05 import RecordingLM

    lm = ch05.tiny_model(*ch05.PEAKED)
    model = RecordingLM(lm)
    ids = ch05._prompts(2, 5, 50, 1)
    with torch.no_grad():
        out = model(ids, past_key_values=DynamicCache(), use_cache=True)
        step = model(input_ids=ids[:, -1:], past_key_values=out.past_key_values, use_cache=True)
        again = model(input_ids=ids)
        assert torch.equal(again.logits, lm(input_ids=ids).logits)
    assert model.calls == [[5, 0], [1, 5], [5, 0]] and step.logits.shape == (2, 1, 50)
    assert model.config is lm.config and model.device == lm.device
