"""llmcourse.decoding against Hugging Face transformers: its logits processors and ``generate``."""

from __future__ import annotations

import functools

import pytest
import torch

from llmcourse import decoding as D
from llmcourse import gpt, models

transformers = pytest.importorskip("transformers")
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402
from transformers.generation.logits_process import (  # noqa: E402
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

SHAPES = [(1, 7), (3, 50), (4, 1000)]  # (B, V)


def random_logits(B: int, V: int, seed: int) -> torch.Tensor:
    """Tie-free logits (B, V) of both signs."""
    g = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(B, V, generator=g)
    # randn can repeat a float32 value among 1000; push duplicates apart by their rank.
    rank = logits.argsort(dim=-1).argsort(dim=-1).float()  # (B, V), 0 = smallest
    logits = logits + 1e-3 * rank
    assert all(len(row.unique()) == V for row in logits), "the test needs tie-free logits"
    return logits


def dummy_ids(B: int) -> torch.Tensor:
    return torch.zeros(B, 1, dtype=torch.long)  # the warpers ignore input_ids


def assert_same(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    assert torch.equal(actual.isinf(), expected.isinf()), f"{what}: filtered tokens differ"
    finite = expected.isfinite()
    torch.testing.assert_close(actual[finite], expected[finite], msg=what)


def tiny_model(seed: int = 0, vocab_size: int = 50) -> GPT2LMHeadModel:
    """A 2-layer, 32-wide random GPT-2: fast, and peaked enough (large init) to decode non-trivially."""
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        initializer_range=0.3,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    return GPT2LMHeadModel(config).eval()


def hf_generate(model, input_ids: torch.Tensor, **kwargs) -> torch.Tensor:
    return model.generate(input_ids, attention_mask=torch.ones_like(input_ids), **kwargs)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: one thread is faster, and far faster when other processes share the CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny():
    model = tiny_model()
    prompts = torch.randint(0, 50, (4, 5), generator=torch.Generator().manual_seed(1))  # (4, 5)
    return model, prompts


@pytest.fixture(scope="module")
def course():
    return models.load("course-gpt", device="cpu")


# --- Logits processors ------------------------------------------------------------------------


@pytest.mark.parametrize("B,V", SHAPES)
@pytest.mark.parametrize("temperature", [1e-3, 0.5, 1.0, 2.0, 7.0])
def test_temperature_matches_hf(B, V, temperature):
    logits = random_logits(B, V, seed=V + B)
    expected = TemperatureLogitsWarper(temperature)(dummy_ids(B), logits.clone())
    assert_same(D.apply_temperature(logits, temperature), expected, f"temperature {temperature}")


def test_temperature_rejects_non_positive():
    logits = random_logits(2, 10, seed=0)
    for bad in (0, 0.0, -1.0):
        with pytest.raises(ValueError):
            TemperatureLogitsWarper(float(bad))
        with pytest.raises(ValueError):
            D.apply_temperature(logits, bad)
    assert_same(D.apply_temperature(logits, 2), logits / 2, "an int temperature is fine here")


@pytest.mark.parametrize("B,V", SHAPES)
def test_top_k_matches_hf(B, V):
    logits = random_logits(B, V, seed=V)
    for k in sorted({1, 2, 5, V - 1, V, V + 3} - {0}):
        expected = TopKLogitsWarper(k)(dummy_ids(B), logits.clone())
        actual = D.top_k_filter(logits, k)
        assert_same(actual, expected, f"top-k, k={k}")
        assert (actual.isfinite().sum(dim=-1) == min(k, V)).all(), "tie-free logits keep exactly k"


def test_top_k_keeps_ties_like_hf():
    g = torch.Generator().manual_seed(3)
    logits = torch.randint(-3, 4, (6, 20), generator=g).float()  # many ties
    logits[0] = torch.tensor([5.0, 5.0, 5.0] + [0.0] * 17)  # k=1 keeps the three tied maxima
    for k in (1, 2, 3, 7, 19):
        expected = TopKLogitsWarper(k)(dummy_ids(6), logits.clone())
        actual = D.top_k_filter(logits, k)
        assert_same(actual, expected, f"top-k with ties, k={k}")
        assert (actual.isfinite().sum(dim=-1) >= k).all()
    assert D.top_k_filter(logits, 1)[0].isfinite().sum() == 3


def test_top_k_rejects_bad_k():
    logits = random_logits(2, 10, seed=0)
    for bad in (0, -2, 2.5):
        with pytest.raises(ValueError):
            TopKLogitsWarper(bad)
        with pytest.raises(ValueError):
            D.top_k_filter(logits, bad)


@pytest.mark.parametrize("B,V", SHAPES)
def test_top_p_matches_hf(B, V):
    logits = random_logits(B, V, seed=2 * V + B)
    for p in (0.0, 0.05, 0.3, 0.5, 0.8, 0.9, 0.95, 0.999, 1.0):
        expected = TopPLogitsWarper(p)(dummy_ids(B), logits.clone())
        actual = D.top_p_filter(logits, p)
        assert_same(actual, expected, f"top-p, p={p}")
        assert (actual.isfinite().sum(dim=-1) >= 1).all(), "at least one token stays"


def test_top_p_keeps_the_crossing_token_and_chains_after_top_k():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()  # (1, 4)
    kept = D.top_p_filter(logits, 0.6).isfinite()  # 0.5 < 0.6: the 0.3 token is needed to reach 0.6
    assert kept.tolist() == [[True, True, False, False]]
    assert D.top_p_filter(logits, 0.0).isfinite().tolist() == [[True, False, False, False]]
    # After top-k, some logits are already -inf: top-p must still agree with Hugging Face.
    logits = random_logits(3, 50, seed=11)
    after_k = D.top_k_filter(logits, 10)
    for p in (0.3, 0.9):
        assert_same(
            D.top_p_filter(after_k, p), TopPLogitsWarper(p)(dummy_ids(3), after_k.clone()), f"top-k then top-p {p}"
        )


def test_top_p_rejects_bad_p():
    logits = random_logits(2, 10, seed=0)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError):
            TopPLogitsWarper(bad)
        with pytest.raises(ValueError):
            D.top_p_filter(logits, bad)


@pytest.mark.parametrize("B,V", SHAPES)
@pytest.mark.parametrize("penalty", [0.5, 1.0, 1.3, 2.0])
def test_repetition_penalty_matches_hf(B, V, penalty):
    logits = random_logits(B, V, seed=V + 5)
    g = torch.Generator().manual_seed(B)
    generated = torch.randint(0, min(V, 6), (B, 9), generator=g)  # (B, 9): small ids, many repeats
    expected = RepetitionPenaltyLogitsProcessor(penalty)(generated, logits.clone())
    assert_same(D.apply_repetition_penalty(logits, generated, penalty), expected, f"repetition penalty {penalty}")


def test_repetition_penalty_once_per_token_and_both_signs():
    logits = torch.tensor([[2.0, -2.0, 1.0, 0.5]])
    out = D.apply_repetition_penalty(logits, torch.tensor([[0, 0, 0, 1]]), 2.0)
    assert out.tolist() == [[1.0, -4.0, 1.0, 0.5]]  # divided once, multiplied once, others untouched
    with pytest.raises(ValueError):
        D.apply_repetition_penalty(logits, torch.tensor([[0]]), 0.0)


def frequency_presence_loop(logits, generated_ids, frequency_penalty, presence_penalty):
    """The OpenAI definition, one token at a time."""
    out = logits.clone()
    for b in range(logits.shape[0]):
        counts: dict[int, int] = {}
        for token in generated_ids[b].tolist():
            counts[token] = counts.get(token, 0) + 1
        for token, c in counts.items():
            out[b, token] -= c * frequency_penalty + (1 if c > 0 else 0) * presence_penalty
    return out


@pytest.mark.parametrize("B,V", SHAPES)
@pytest.mark.parametrize("fp,pp", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.7), (0.3, 1.1), (-0.5, -0.2)])
def test_frequency_presence_penalties_match_loop(B, V, fp, pp):
    logits = random_logits(B, V, seed=V + 9)
    generated = torch.randint(0, min(V, 8), (B, 12), generator=torch.Generator().manual_seed(V))
    expected = frequency_presence_loop(logits, generated, fp, pp)
    assert_same(D.apply_frequency_presence_penalties(logits, generated, fp, pp), expected, f"penalties {fp}, {pp}")
    empty = torch.zeros(B, 0, dtype=torch.long)
    assert_same(D.apply_frequency_presence_penalties(logits, empty, fp, pp), logits, "no tokens yet: no penalty")


def test_processors_do_not_modify_their_input():
    logits = random_logits(3, 50, seed=1)
    before = logits.clone()
    ids = torch.randint(0, 50, (3, 6))
    D.apply_temperature(logits, 0.5)
    D.top_k_filter(logits, 5)
    D.top_p_filter(logits, 0.5)
    D.apply_repetition_penalty(logits, ids, 1.5)
    D.apply_frequency_presence_penalties(logits, ids, 0.5, 0.5)
    assert torch.equal(logits, before)


# --- Sampling ----------------------------------------------------------------------------------


def test_sample_is_reproducible_and_respects_filters():
    logits = random_logits(4, 50, seed=2)
    ids = torch.randint(0, 50, (4, 3))

    def draws(seed: int) -> torch.Tensor:  # (20, 4)
        g = torch.Generator().manual_seed(seed)
        return torch.stack([D.sample(logits, ids, g, temperature=2.0, top_p=0.9) for _ in range(20)])

    assert torch.equal(draws(0), draws(0)), "same seed, same tokens"
    assert not torch.equal(draws(0), draws(1)), "another seed, other tokens"
    g = torch.Generator().manual_seed(0)
    many = torch.stack([D.sample(logits, ids, g, top_k=3) for _ in range(200)])  # (200, 4)
    allowed = D.top_k_filter(logits, 3).isfinite()  # (4, 50)
    assert all(allowed[b, many[:, b]].all() for b in range(4)), "a filtered token was sampled"
    assert len(many[:, 0].unique()) > 1, "sampling with top_k=3 should not always pick one token"
    assert torch.equal(D.sample(logits, ids, g, top_k=1), logits.argmax(-1)), "top_k=1 is greedy"
    with pytest.raises(ValueError):
        D.sample(logits, ids, g, temperature=0.0)
    # Penalties count ids[:, prompt_length:]: a huge presence penalty bans exactly those tokens.
    flat = torch.zeros(4, 50)
    ids = torch.tensor([[1, 2, 3]] * 4)
    banned = torch.stack([D.sample(flat, ids, g, presence_penalty=1e4, prompt_length=1) for _ in range(300)])
    assert not torch.isin(banned, torch.tensor([2, 3])).any() and (banned == 1).any()
    banned = torch.stack([D.sample(flat, ids, g, repetition_penalty=1e4, frequency_penalty=0.0) for _ in range(300)])
    assert (banned == 1).any(), "the repetition penalty divides a zero logit: no effect"


@pytest.mark.parametrize(
    "hf_settings,our_settings",
    [
        (dict(top_k=50), dict(top_k=50)),
        (dict(temperature=3.0), dict(temperature=3.0, top_k=50)),  # generate's default top_k=50
        (dict(temperature=3.0, top_k=None), dict(temperature=3.0)),  # top_k=None: off
        (dict(top_k=None, top_p=0.9, temperature=0.7), dict(top_p=0.9, temperature=0.7)),
        (
            dict(top_k=5, repetition_penalty=1.3, temperature=1.5),
            dict(top_k=5, repetition_penalty=1.3, temperature=1.5),
        ),
    ],
)
def test_sample_in_generate_matches_hf_sampling(course, hf_settings, our_settings):
    """Same processing order and the same draws as ``generate(do_sample=True)`` with the same seed."""
    hf, tok = course
    ours = gpt.from_hf(hf).eval()
    prompts = torch.stack(
        [
            tok(p, return_tensors="pt").input_ids[0, :8]
            for p in ["Once upon a time, there was a little", "Anna: Hello, Ben! How are you?"]
        ]
    )
    torch.manual_seed(123)
    expected = hf_generate(hf, prompts, do_sample=True, max_new_tokens=25, eos_token_id=None, **hf_settings)
    choose = functools.partial(D.sample, generator=torch.Generator().manual_seed(123), **our_settings)
    actual = gpt.generate(ours, prompts, 25, next_token=choose)
    assert torch.equal(actual, expected), f"{our_settings}: {tok.decode(actual[0])!r} vs {tok.decode(expected[0])!r}"


# --- Greedy decoding ---------------------------------------------------------------------------


@pytest.mark.parametrize("B", [1, 3])
def test_greedy_decode_matches_hf(tiny, B):
    model, prompts = tiny
    x = prompts[:B]
    free = D.greedy_decode(model, x, 15)
    assert free.shape == (B, 5 + 15)
    assert torch.equal(free, hf_generate(model, x, do_sample=False, max_new_tokens=15, eos_token_id=None))
    # End tokens: one that the first sequence produces early, one that never comes.
    eos_choices = [int(free[0, 5 + 2]), int(free[B - 1, 5 + 6]), 48]
    for eos in eos_choices:
        for pad in (0, 47):
            expected = hf_generate(model, x, do_sample=False, max_new_tokens=15, eos_token_id=eos, pad_token_id=pad)
            actual = D.greedy_decode(model, x, 15, eos_token_id=eos, pad_token_id=pad)
            assert torch.equal(actual, expected), f"B={B} eos={eos} pad={pad}:\n{actual}\nvs\n{expected}"
    # Stops as soon as every sequence has ended: the length is the last end token's position.
    eos = int(free[0, 5 + 2])
    first_eos = int((free[0, 5:] == eos).nonzero()[0])
    assert D.greedy_decode(model, x[:1], 15, eos_token_id=eos).shape == (1, 5 + first_eos + 1)


def test_greedy_decode_course_gpt_both_model_kinds(course):
    hf, tok = course
    x = tok("That night, Ruby went to bed", return_tensors="pt").input_ids
    expected = hf_generate(hf, x, do_sample=False, max_new_tokens=20)  # the model's own eos (0) and pad (0)
    assert expected.shape[1] < x.shape[1] + 20 and expected[0, -1] == 0, "the prompt should end its story"
    assert torch.equal(D.greedy_decode(hf, x, 20, eos_token_id=0), expected)
    ours = gpt.from_hf(hf).eval()
    assert torch.equal(D.greedy_decode(ours, x, 20, eos_token_id=0), expected), "the course GPT works too"
    assert torch.equal(D.greedy_decode(ours, x, 20, eos_token_id=0), gpt.generate(ours, x, 20, eos_token_id=0))


# --- Greedy decoding with a KV cache ----------------------------------------------------------


class CountingLM(torch.nn.Module):
    """A Hugging Face model that notes the number of tokens and of cached positions of every forward."""

    def __init__(self, lm):
        super().__init__()
        self.lm, self.calls = lm, []

    def forward(self, input_ids=None, past_key_values=None, **kwargs):
        cached = 0 if past_key_values is None else past_key_values.get_seq_length()
        self.calls.append((input_ids.shape[1], cached))
        return self.lm(input_ids=input_ids, past_key_values=past_key_values, **kwargs)


@pytest.mark.parametrize("B, n", [(1, 15), (3, 10), (4, 1), (2, 0)])
def test_generate_with_cache_matches_full_recompute_with_one_forward_per_token(tiny, B, n):
    model, prompts = tiny
    x = prompts[:B]
    counting = CountingLM(model)
    out = D.generate_with_cache(counting, x, n)
    assert out.shape == (B, 5 + n) and torch.equal(out[:, :5], x)
    expected = hf_generate(model, x, do_sample=False, use_cache=False, max_new_tokens=n, eos_token_id=None) if n else x
    assert torch.equal(out, expected)
    assert torch.equal(out, D.greedy_decode(model, x, n))
    assert counting.calls == ([(5, 0)] if n else []) + [(1, 5 + i) for i in range(n - 1)]


def test_generate_with_cache_on_course_gpt(course):
    hf, tok = course
    x = tok(["Once upon a time, there was a little", "Anna: Hi, Ben!\nBen:"], return_tensors="pt")
    ids = x.input_ids
    assert ids.shape[1] == 9, "two prompts of the same length"
    expected = hf_generate(hf, ids, do_sample=False, max_new_tokens=24, eos_token_id=None, pad_token_id=0)
    assert torch.equal(D.generate_with_cache(hf, ids, 24), expected)


# --- Beam search -------------------------------------------------------------------------------


@pytest.mark.parametrize("num_beams", [2, 3])
def test_beam_search_without_eos_matches_hf(tiny, num_beams):
    model, prompts = tiny
    for B in (1, 3):
        x = prompts[:B]
        expected = hf_generate(
            model, x, num_beams=num_beams, do_sample=False, early_stopping=False, max_new_tokens=10, eos_token_id=None
        )
        actual = D.beam_search(model, x, num_beams, 10)
        assert actual.shape == (B, 5 + 10)
        assert torch.equal(actual, expected), f"num_beams={num_beams} B={B}"
    greedy = D.greedy_decode(model, prompts, 10)
    assert torch.equal(D.beam_search(model, prompts, 1, 10), greedy), "one beam is greedy decoding"
    assert not torch.equal(D.beam_search(model, prompts, num_beams, 10), greedy), (
        "beams should find something else here"
    )


def sequence_log_prob(model, seq: torch.Tensor, prompt_len: int) -> float:
    log_probs = torch.log_softmax(model(seq[None]).logits[0, :-1].float(), dim=-1)  # (t - 1, V)
    picked = log_probs[torch.arange(len(seq) - 1), seq[1:]]  # (t - 1,)
    return float(picked[prompt_len - 1 :].sum())


def test_beam_search_wins_on_joint_probability(tiny):
    model, prompts = tiny
    x = prompts[:1]
    with torch.no_grad():
        beam = D.beam_search(model, x, 3, 8)[0]
        greedy = D.greedy_decode(model, x, 8)[0]
        assert sequence_log_prob(model, beam, 5) >= sequence_log_prob(model, greedy, 5) - 1e-5


@pytest.mark.parametrize("length_penalty", [1.0, 0.0, 2.0, -1.0])
def test_beam_search_with_eos_matches_hf(tiny, length_penalty):
    """End tokens chosen so that hypotheses finish early, late, or the search stops on Hugging Face's heuristic."""
    model, prompts = tiny
    cases = [(14, 3), (49, 0), (49, 1), (37, 2), (37, 3), (9, 0)]  # (eos, prompt row)
    lengths = set()
    for eos, row in cases:
        x = prompts[row : row + 1]
        for num_beams in (2, 3):
            expected = hf_generate(
                model,
                x,
                num_beams=num_beams,
                do_sample=False,
                early_stopping=False,
                max_new_tokens=12,
                eos_token_id=eos,
                pad_token_id=eos,
                length_penalty=length_penalty,
            )
            actual = D.beam_search(model, x, num_beams, 12, length_penalty=length_penalty, eos_token_id=eos)
            assert torch.equal(actual, expected), (
                f"eos={eos} row={row} beams={num_beams} lp={length_penalty}:\n{actual}\nvs\n{expected}"
            )
            lengths.add(actual.shape[1] - 5)
    assert len(lengths) >= 2 or length_penalty > 0, f"expected early finishes, got lengths {lengths}"
    # A batch: each prompt on its own, padded with the end token to the longest.
    expected = hf_generate(
        model,
        prompts,
        num_beams=2,
        do_sample=False,
        early_stopping=False,
        max_new_tokens=12,
        eos_token_id=37,
        pad_token_id=37,
        length_penalty=length_penalty,
    )
    assert torch.equal(D.beam_search(model, prompts, 2, 12, length_penalty=length_penalty, eos_token_id=37), expected)


def test_beam_search_course_gpt_with_end_token(course):
    hf, tok = course
    prompts = [
        "Hana: I have to go now. Goodbye, Hugo!\nHugo: Goodbye,",
        "Dear diary,\nOn Friday, I gently walked next to the library.\nYour",
    ]
    x = torch.cat([tok(p, return_tensors="pt").input_ids for p in prompts])  # (2, 17): same length
    for num_beams, lp in [(3, 1.0), (2, 0.0)]:
        expected = hf_generate(
            hf, x, num_beams=num_beams, do_sample=False, early_stopping=False, max_new_tokens=16, length_penalty=lp
        )
        actual = D.beam_search(hf, x, num_beams, 16, length_penalty=lp, eos_token_id=0)
        assert torch.equal(actual, expected), f"{tok.batch_decode(actual)} vs {tok.batch_decode(expected)}"
        assert (actual[:, -1] == 0).all() and actual.shape[1] < 17 + 16, "both hypotheses end with the end token"
    text = tok.decode(D.beam_search(hf, x[:1], 3, 16, eos_token_id=0)[0, 17:])
    assert text == " Hana! See you at school.<|endoftext|>", "three beams find a longer, likelier ending than greedy's"


# --- Stop sequences ----------------------------------------------------------------------------


def greedy_text(model, tok, prompt: str, n: int) -> str:
    x = tok(prompt, return_tensors="pt").input_ids
    out = D.greedy_decode(model, x, n, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
    new = out[0, x.shape[1] :]
    return tok.decode(new[new != tok.eos_token_id])


def test_generate_until_stops_on_strings_across_tokens(course):
    hf, tok = course
    prompt = "Anna: Hi, Ben!\nBen:"
    full = greedy_text(hf, tok, prompt, 40)
    assert full.startswith(" Hi, Anna! How are you?\nAnna: I am fine")
    cases = {
        "\nAnna:": " Hi, Anna! How are you?",  # three tokens: "\n", "Anna", ":"
        "nna:": " Hi, Anna! How are you?\nA",  # starts inside the token "Anna"
        "ow are": " Hi, Anna! H",  # starts inside " How"
        "Ben:": full[: full.index("Ben:")],  # the prompt's own "Ben:" does not count
        ("yesterday", "\nAnna:"): " Hi, Anna! How are you?",  # the earliest of several
        ("thank", "fine"): " Hi, Anna! How are you?\nAnna: I am ",
    }
    for stop, expected in cases.items():
        assert D.generate_until(hf, tok, prompt, stop, 40) == expected, f"stop {stop!r}"
        assert D.generate_until(hf, tok, prompt, list(stop) if isinstance(stop, tuple) else [stop], 40) == expected
    assert D.generate_until(hf, tok, prompt, "zebra", 40) == full, "no stop string: all max_new_tokens tokens"
    assert D.generate_until(hf, tok, prompt, "zebra", 5) == greedy_text(hf, tok, prompt, 5)
    with pytest.raises(ValueError):
        D.generate_until(hf, tok, prompt, "", 5)


def test_generate_until_stops_at_end_of_text_and_takes_a_sampler(course):
    hf, tok = course
    prompt = "Hana: I have to go now. Goodbye, Hugo!\nHugo: Goodbye,"
    assert D.generate_until(hf, tok, prompt, "zebra", 30) == " Hana! See you soon."
    ours = gpt.from_hf(hf).eval()
    assert D.generate_until(ours, tok, prompt, "!", 30) == " Hana", "works with the course GPT"
    seen = []

    def spy(logits, ids):
        seen.append(ids.shape)
        return logits.argmax(-1)

    D.generate_until(hf, tok, prompt, "!", 30, next_token=spy)
    assert seen == [(1, 17), (1, 18)], "the hook gets (1, V) logits and all ids so far"
    sampler = lambda: functools.partial(D.sample, generator=torch.Generator().manual_seed(5), temperature=1.5)  # noqa: E731
    a = D.generate_until(hf, tok, "Anna: Hi, Ben!\nBen:", "\nAnna:", 40, next_token=sampler())
    assert a == D.generate_until(hf, tok, "Anna: Hi, Ben!\nBen:", "\nAnna:", 40, next_token=sampler())
    assert "\nAnna:" not in a
