"""The draft catalogue of chapter 05: every mistake is caught by an oracle, every alternative passes.

Oracles: Hugging Face's logits processors (temperature, top-k, top-p, repetition penalty), a loop
for the OpenAI penalties, Hugging Face's ``generate`` (greedy, beam search), and for stop strings
a streaming search over the tokens that ``generate`` produces. None of them is llmcourse.decoding.

A mistake is caught when, on some case, it returns a different value, returns a value where the
oracle raises ``ValueError``, or changes its inputs in place. Errors it raises do not count.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from llmcourse import gpt, models
from llmcourse.decoding import sample  # only as a next_token hook the answers are given

# Loaded by path: importing llmcourse.grading would also import the grading engine, which this
# plain data module does not need.
_PATH = Path(__file__).resolve().parents[1] / "llmcourse" / "grading" / "_draft_ch05_catalogue.py"
_spec = importlib.util.spec_from_file_location("_draft_ch05_catalogue", _PATH)
catalogue = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(catalogue)

NAMES = [
    "apply_temperature",
    "top_k_filter",
    "top_p_filter",
    "apply_repetition_penalty",
    "apply_frequency_presence_penalties",
    "greedy_decode",
    "beam_search",
    "generate_until",
]
SHAPES = [(1, 7), (3, 50), (4, 1000)]  # (B, V)


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


# ------------------------------------------------------------------ running answers and oracles


class Raises:
    """The outcome of a call that raised."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"Raises({type(self.error).__name__}: {self.error})"


MUTATES = "changed its inputs in place"


def run(fn, make_args):
    """Call ``fn`` on fresh arguments; the result, a :class:`Raises`, or ``MUTATES``."""
    args = make_args()
    before = [a.clone() if isinstance(a, torch.Tensor) else None for a in args]
    try:
        with torch.no_grad():
            result = fn(*args)
    except Exception as error:  # noqa: BLE001 - an answer may raise anything
        return Raises(error)
    if any(b is not None and not torch.equal(a, b) for a, b in zip(args, before)):
        return MUTATES
    return result


def same(got, expected) -> bool:
    """Whether an answer's outcome ``got`` matches the oracle's ``expected``."""
    if isinstance(expected, Raises):
        return isinstance(got, Raises) and isinstance(got.error, type(expected.error))
    if isinstance(got, (Raises, str)) and not isinstance(expected, str):
        return False
    if isinstance(expected, str):
        return got == expected
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return False
    if not expected.is_floating_point():
        return torch.equal(got.long(), expected)
    if not torch.equal(got.isinf() & (got < 0), expected.isinf() & (expected < 0)):
        return False
    finite = expected.isfinite()
    return bool(got[finite].isfinite().all()) and torch.allclose(got[finite].float(), expected[finite], rtol=1e-5, atol=1e-5)


def oracle_outcome(oracle, make_args):
    try:
        with torch.no_grad():
            return oracle(*make_args())
    except ValueError as error:
        return Raises(error)


def caught(answer, cases) -> bool:
    """Whether ``answer`` differs from the oracle on some case (errors it raises do not count)."""
    for make_args, expected in cases:
        got = run(answer, make_args)
        if isinstance(got, Raises) and not isinstance(expected, Raises):
            continue
        if got is MUTATES or not same(got, expected):
            return True
    return False


def first_disagreement(answer, cases):
    for index, (make_args, expected) in enumerate(cases):
        got = run(answer, make_args)
        if got is MUTATES or not same(got, expected):
            return index, got, expected
    return None


# ------------------------------------------------------------------ inputs


def logits_of_shape(B: int, V: int, seed: int) -> torch.Tensor:
    """Tie-free random logits of both signs."""
    logits = 3 * torch.randn(B, V, generator=torch.Generator().manual_seed(seed))
    return logits + 1e-3 * logits.argsort(dim=-1).argsort(dim=-1)  # push float32 duplicates apart


def tied_logits() -> torch.Tensor:
    logits = torch.randint(-3, 4, (5, 20), generator=torch.Generator().manual_seed(3)).float()
    logits[0] = torch.tensor([5.0, 5.0, 5.0] + [0.0] * 17)
    return logits


def repeated_ids(B: int, V: int, seed: int, T: int = 9) -> torch.Tensor:
    """(B, T) ids drawn from the first few tokens, so that they repeat (and differ between rows)."""
    return torch.randint(0, min(V, 6), (B, T), generator=torch.Generator().manual_seed(seed))


_DUMMY = torch.zeros(1, 1, dtype=torch.long)  # the warpers ignore input_ids


def frequency_presence_loop(logits, ids, fp, pp):
    """The OpenAI definition, one token at a time."""
    out = logits.clone()
    for b in range(logits.shape[0]):
        counts: dict[int, int] = {}
        for token in ids[b].tolist():
            counts[token] = counts.get(token, 0) + 1
        for token, c in counts.items():
            out[b, token] -= c * fp + pp
    return out


PROCESSOR_ORACLES = {
    "apply_temperature": lambda logits, t: TemperatureLogitsWarper(float(t))(_DUMMY, logits.clone()),
    "top_k_filter": lambda logits, k: TopKLogitsWarper(k)(_DUMMY, logits.clone()),
    "top_p_filter": lambda logits, p: TopPLogitsWarper(p)(_DUMMY, logits.clone()),
    "apply_repetition_penalty": lambda logits, ids, r: RepetitionPenaltyLogitsProcessor(float(r))(ids, logits.clone()),
    "apply_frequency_presence_penalties": frequency_presence_loop,
}


def processor_cases():
    """For each processor: [(make_args, expected outcome)], from Hugging Face's processors or a loop."""
    L = logits_of_shape
    after_top_k = lambda: L(3, 50, 8).masked_fill(L(3, 50, 8) < 0, float("-inf"))  # noqa: E731
    makers = {
        "apply_temperature": [(lambda B=B, V=V, t=t: (L(B, V, V + int(4 * t)), t)) for B, V in SHAPES for t in (0.5, 2.0)]
        + [lambda: (L(3, 50, 1), 1.0), lambda: (after_top_k(), 0.7), lambda: (L(2, 9, 0), 0.0), lambda: (L(2, 9, 0), -1.0)],
        "top_k_filter": [(lambda B=B, V=V, k=k: (L(B, V, V + k), k)) for B, V in SHAPES for k in (1, 5)]
        + [lambda: (L(1, 7, 2), 6), lambda: (L(2, 7, 3), 10), lambda: (tied_logits(), 1), lambda: (tied_logits(), 3)]
        + [lambda: (L(2, 9, 0), 0), lambda: (L(2, 9, 0), -1)],
        "top_p_filter": [(lambda B=B, V=V, p=p: (L(B, V, 2 * V + int(10 * p)), p)) for B, V in SHAPES for p in (0.5, 0.9)]
        + [lambda: (L(3, 50, 4), 0.0), lambda: (L(4, 1000, 5), 1.0), lambda: (L(3, 50, 6), 0.05), lambda: (after_top_k(), 0.3)]
        + [lambda: (L(2, 9, 0), -0.1), lambda: (L(2, 9, 0), 1.5)],
        "apply_repetition_penalty": [
            (lambda B=B, V=V, r=r: (L(B, V, V + 7), repeated_ids(B, V, B), r)) for B, V in SHAPES for r in (1.3, 0.8)
        ]
        + [lambda: (L(3, 50, 1), repeated_ids(3, 50, 2), 1.0), lambda: (L(2, 30, 2), torch.arange(30).view(2, 15), 2.0)],
        "apply_frequency_presence_penalties": [
            (lambda B=B, V=V, fp=fp, pp=pp: (L(B, V, V + 9), repeated_ids(B, V, V, 12), fp, pp))
            for B, V in SHAPES
            for fp, pp in [(0.5, 0.3), (0.0, 0.8), (1.2, 0.0)]
        ]
        + [lambda: (L(3, 50, 2), torch.zeros(3, 0, dtype=torch.long), 0.5, 0.5), lambda: (L(2, 20, 3), repeated_ids(2, 20, 4), -0.4, -0.2)],
    }
    return {name: [(make, oracle_outcome(PROCESSOR_ORACLES[name], make)) for make in makers_of_name] for name, makers_of_name in makers.items()}


PROCESSOR_CASES = processor_cases()


def tiny_model() -> GPT2LMHeadModel:
    """A 2-layer, 32-wide random GPT-2 (large init, so that it decodes non-trivially)."""
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=50, n_positions=64, n_embd=32, n_layer=2, n_head=2, initializer_range=0.3,
        bos_token_id=None, eos_token_id=None, pad_token_id=None,
    )
    return GPT2LMHeadModel(config).eval()


def hf_generate(model, ids, **kwargs):
    return model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)


@pytest.fixture(scope="module")
def tiny():
    model = tiny_model()
    prompts = torch.randint(0, 50, (4, 5), generator=torch.Generator().manual_seed(1))  # (4, 5)
    return model, prompts


@pytest.fixture(scope="module")
def greedy_cases(tiny):
    model, P = tiny
    free = hf_generate(model, P, do_sample=False, max_new_tokens=20, eos_token_id=None)[:, 5:]  # (4, 20)
    early, first = int(free[0, 2]), int(free[0, 0])
    settings = [
        (P[:1], 15, None, 0),
        (P[:3], 15, None, 0),
        (P[:3], 15, early, 0),  # sequence 0 ends early, the others later or never
        (P[:3], 15, early, 47),
        (P[:1], 15, first, 0),  # ends at the first token
        (P, 20, 37, 0),  # every sequence ends before 20 tokens
        (P[:3], 15, 48, 3),
    ]
    cases = []
    for ids, n, eos, pad in settings:
        make = lambda ids=ids, n=n, eos=eos, pad=pad: (model, ids.clone(), n, eos, pad)  # noqa: E731
        expected = hf_generate(model, ids, do_sample=False, max_new_tokens=n, eos_token_id=eos, pad_token_id=pad)
        cases.append((make, expected))
    return cases


@pytest.fixture(scope="module")
def beam_cases(tiny):
    model, P = tiny
    settings = [  # (prompts, num_beams, max_new_tokens, length_penalty, eos)
        (P[:1], 2, 8, 1.0, None),
        (P[:3], 3, 6, 1.0, None),
        (P[3:4], 2, 12, 1.0, 14),
        (P[0:1], 2, 12, 1.0, 49),
        (P[1:2], 3, 12, 2.0, 49),
        (P[3:4], 2, 12, 0.0, 37),
        (P[0:1], 3, 12, -1.0, 37),
        (P, 2, 12, 1.0, 37),
    ]
    cases = []
    for ids, N, n, lp, eos in settings:
        make = lambda ids=ids, N=N, n=n, lp=lp, eos=eos: (model, ids.clone(), N, n, lp, eos)  # noqa: E731
        expected = hf_generate(model, ids, num_beams=N, do_sample=False, early_stopping=False, max_new_tokens=n,
                               length_penalty=lp, eos_token_id=eos, pad_token_id=eos)
        cases.append((make, expected))
    return cases


@pytest.fixture(scope="module")
def course():
    return models.load("course-gpt", device="cpu")


def streamed_until(tok, new_tokens: list[int], stops: list[str]) -> str:
    """What generate_until must return, given the tokens the model produces one by one."""
    for n in range(1, len(new_tokens) + 1):
        if new_tokens[n - 1] == tok.eos_token_id:
            return tok.decode(new_tokens[: n - 1])
        text = tok.decode(new_tokens[:n])
        found = [text.find(s) for s in stops if s in text]
        if found:
            return text[: min(found)]
    return tok.decode(new_tokens)


ANNA = "Anna: Hi, Ben!\nBen:"
HANA = "Hana: I have to go now. Goodbye, Hugo!\nHugo: Goodbye,"
QUESTION = "Question: What is 3 plus 4?\nAnswer:"


def sampler():
    return functools.partial(sample, generator=torch.Generator().manual_seed(5), temperature=1.5)


@pytest.fixture(scope="module")
def until_cases(course):
    hf, tok = course
    ours = gpt.from_hf(hf).eval()
    settings = [  # (prompt, stop, max_new_tokens, sampled?)
        (ANNA, "\nAnna:", 40, False),  # three tokens
        (ANNA, "nna:", 40, False),  # starts inside the token "Anna"
        (ANNA, "Ben:", 40, False),  # in the prompt too
        (ANNA, ["nna", "An"], 40, False),  # both complete with the same token
        (ANNA, "Anna! H", 40, False),  # ends inside the token " How"
        (ANNA, "zebra", 12, False),  # never: max_new_tokens
        (HANA, "zebra", 30, False),  # the end-of-text token comes first
        (QUESTION, "\n\nQuestion:", 40, False),
        (ANNA, ["\nAnna:", "\nBen:"], 40, True),  # a sampler as next_token
    ]
    cases = []
    for prompt, stop, n, sampled in settings:
        ids = tok(prompt, return_tensors="pt").input_ids
        if sampled:
            out = gpt.generate(ours, ids, n, next_token=sampler(), eos_token_id=tok.eos_token_id)
        else:
            out = hf_generate(hf, ids, do_sample=False, max_new_tokens=n, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
        expected = streamed_until(tok, out[0, ids.shape[1] :].tolist(), [stop] if isinstance(stop, str) else stop)
        make = lambda prompt=prompt, stop=stop, n=n, sampled=sampled: (hf, tok, prompt, stop, n) + ((sampler(),) if sampled else ())  # noqa: E731
        cases.append((make, expected))
    return cases


@pytest.fixture(scope="module")
def cases_for(greedy_cases, beam_cases, until_cases):
    return {**PROCESSOR_CASES, "greedy_decode": greedy_cases, "beam_search": beam_cases, "generate_until": until_cases}


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
            for forbidden in ("transformers", "LogitsWarper", "LogitsProcessor", ".generate(", "llmcourse.decoding", "llmcourse.gpt"):
                assert forbidden not in code, (name, forbidden)
        codes = [code for _, _, code in mistakes] + catalogue.ALTERNATIVES[name]
        assert len(set(codes)) == len(codes), name
        assert not any("llmcourse.decoding" in code for code in codes), f"{name}: answers must not call the reference"


def test_the_oracles_behave_as_the_cases_intend(cases_for):
    """The cases exercise what they claim: errors, ties, early ends, stop strings in the prompt."""
    raising = {name: sum(isinstance(e, Raises) for _, e in cases) for name, cases in cases_for.items()}
    assert raising["apply_temperature"] == 2 and raising["top_k_filter"] == 2 and raising["top_p_filter"] == 2
    greedy_lengths = {expected.shape[1] for _, expected in cases_for["greedy_decode"]}
    assert len(greedy_lengths) >= 3, "some greedy cases must stop early"
    beam_lengths = {expected.shape[1] for _, expected in cases_for["beam_search"]}
    assert len(beam_lengths) >= 3, "some beams must finish with the end token"
    texts = [expected for _, expected in cases_for["generate_until"]]
    assert texts[0] == " Hi, Anna! How are you?" and texts[6] == " Hana! See you soon."


# ------------------------------------------------------------------ mistakes are caught, alternatives pass


MISTAKE_PARAMS = [(name, mistake_id) for name in NAMES for mistake_id, _, _ in catalogue.MISTAKES[name]]
ALTERNATIVE_PARAMS = [(name, index) for name in NAMES for index in range(len(catalogue.ALTERNATIVES[name]))]


@pytest.mark.parametrize("name,mistake_id", MISTAKE_PARAMS, ids=[f"{n}-{m}" for n, m in MISTAKE_PARAMS])
def test_mistake_is_caught(cases_for, name, mistake_id):
    code = dict((m, c) for m, _, c in catalogue.MISTAKES[name])[mistake_id]
    assert caught(load(code, name), cases_for[name]), f"{name}: the mistake {mistake_id!r} passes every case"


@pytest.mark.parametrize("name,index", ALTERNATIVE_PARAMS, ids=[f"{n}-{i}" for n, i in ALTERNATIVE_PARAMS])
def test_alternative_agrees_with_the_oracle(cases_for, name, index):
    answer = load(catalogue.ALTERNATIVES[name][index], name)
    disagreement = first_disagreement(answer, cases_for[name])
    assert disagreement is None, f"{name} alternative {index}: case {disagreement[0]} gave {disagreement[1]!r}, expected {disagreement[2]!r}"


@pytest.mark.parametrize("name", NAMES[:5])
def test_processor_alternatives_on_more_random_inputs(name):
    """More shapes and seeds than the catalogue's cases."""
    oracle_cases = PROCESSOR_CASES[name]
    answers = [load(code, name) for code in catalogue.ALTERNATIVES[name]]
    for make_args, _ in oracle_cases:
        args = make_args()
        for B, V, seed in [(2, 3, 0), (5, 64, 1), (1, 257, 2), (8, 128, 3)]:
            logits = logits_of_shape(B, V, seed)
            rest = list(args[1:])
            if isinstance(rest[0], torch.Tensor):  # penalties: generated ids for this shape
                rest[0] = repeated_ids(B, V, seed, rest[0].shape[1])
            if name == "top_k_filter" and rest[0] > 0:
                rest[0] = min(rest[0], V + 1)
            make = lambda logits=logits, rest=rest: (logits.clone(), *rest)  # noqa: E731
            expected = oracle_outcome(PROCESSOR_ORACLES[name], make)
            for answer in answers:
                assert same(run(answer, make), expected), (name, B, V, seed, rest[1:] if len(rest) > 1 else rest)

