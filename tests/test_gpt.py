"""Tests for llmcourse.gpt: shapes and errors, the two attention paths, the KV cache,
and exact agreement with Hugging Face's GPT2LMHeadModel (logits and greedy generations)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmcourse.gpt import GPT, Block, GPTConfig, KVCache, from_hf, generate, greedy, to_hf

transformers = pytest.importorskip("transformers")

ATOL = 1e-5

# Small random-looking configs: (vocab_size, block_size, n_layer, n_head, n_embd, bias)
CONFIGS = [
    (50, 16, 1, 1, 8, True),
    (97, 32, 2, 2, 16, True),
    (64, 24, 3, 4, 32, False),
    (131, 40, 2, 3, 24, True),
    (37, 20, 4, 2, 12, False),
]
HF_CONFIGS = [c for c in CONFIGS if c[5]]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine the thread
    pool's synchronisation makes these tests many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_config(vocab_size, block_size, n_layer, n_head, n_embd, bias, **kw) -> GPTConfig:
    return GPTConfig(
        vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd, bias=bias, **kw
    )


def make_model(config: GPTConfig, seed: int = 0) -> GPT:
    """A model with larger random weights than GPT-2's init, so that logits are O(1) and greedy
    choices are not decided by rounding errors (the 0.02 init gives nearly uniform logits)."""
    torch.manual_seed(seed)
    model = GPT(config)
    spread_(model)
    return model.eval()


def spread_(model: torch.nn.Module) -> None:
    """Re-initialise the parameters of one of our models or of a GPT2LMHeadModel in place:
    embeddings N(0, 1/C) (logits then have std ~1), matrices N(0, 1/fan_in), LayerNorm weights
    N(1, 0.1^2), biases N(0, 0.1^2)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("wte.weight") or name.endswith("wpe.weight"):
                p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]))
            elif p.dim() == 2:
                fan_in = p.shape[1] if isinstance(model, GPT) else p.shape[0]  # Conv1D is (in, out)
                p.normal_(0.0, 1.0 / math.sqrt(fan_in))
            else:  # LayerNorm weights and all biases
                p.normal_(1.0 if "ln" in name and name.endswith("weight") else 0.0, 0.1)


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str, atol: float = ATOL) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    diff = (actual - expected).abs().max().item() if actual.numel() else 0.0
    assert diff <= atol, f"{what}: max abs diff {diff:.3e} > {atol:.0e} (shape {tuple(actual.shape)})"


def assert_same_tokens(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    if not torch.equal(actual, expected):
        first = (actual != expected).nonzero()[0].tolist()
        raise AssertionError(f"{what}: first mismatch at (batch, position) {first}\n{actual}\n!=\n{expected}")


def hf_greedy(hf_model, idx: torch.Tensor, max_new_tokens: int, eos_token_id: int | None = None) -> torch.Tensor:
    kwargs = dict(
        attention_mask=torch.ones_like(idx),
        max_new_tokens=max_new_tokens,
        min_new_tokens=0,
        do_sample=False,
        num_beams=1,
        eos_token_id=eos_token_id,
        # HF pads finished sequences with pad_token_id; ours keep emitting eos.
        pad_token_id=0 if eos_token_id is None else eos_token_id,
    )
    with torch.no_grad():
        return hf_model.generate(idx, **kwargs)


# --- config, shapes, loss, errors -------------------------------------------------------


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=3, n_embd=8)
    with pytest.raises(ValueError, match="attn_impl"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8, attn_impl="flash")
    with pytest.raises(ValueError, match="n_layer"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=0, n_head=2, n_embd=8)
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8, dropout=1.0)


@pytest.mark.parametrize("attn_impl", ["sdpa", "course"])
def test_forward_shapes_and_loss(attn_impl):
    config = make_config(50, 16, 2, 2, 8, True, attn_impl=attn_impl)
    model = make_model(config)
    idx = torch.randint(0, 50, (3, 11))
    logits, loss = model(idx)
    assert logits.shape == (3, 11, 50) and logits.dtype == torch.float32
    assert loss is None

    targets = torch.randint(0, 50, (3, 11))
    targets[0, :4] = -100
    targets[2, -1] = -100
    logits2, loss = model(idx, targets)
    assert_close(logits2, logits, "logits with and without targets")
    keep = targets != -100
    expected = F.cross_entropy(logits[keep], targets[keep])
    assert loss.shape == ()
    assert_close(loss, expected, "loss vs cross-entropy over non-ignored targets")

    # int32 ids are accepted too
    assert_close(model(idx.int())[0], logits, "int32 ids")


def test_input_errors():
    model = make_model(make_config(50, 16, 1, 2, 8, True))
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(TypeError, match="dtype"):
        model(torch.zeros(1, 5))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.zeros(1, 2, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="targets"):
        model(torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
    cache = model.make_kv_cache(batch_size=2, max_len=8)
    with pytest.raises(ValueError, match="batch size"):
        model(torch.zeros(1, 3, dtype=torch.long), kv_cache=cache)
    model(torch.zeros(2, 6, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match="kv_cache holds 8"):
        model(torch.zeros(2, 3, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match="max_len"):
        KVCache(model.config, 1, max_len=17)


def test_init_tying_and_num_parameters():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=300, block_size=64, n_layer=8, n_head=4, n_embd=64)
    model = GPT(config)
    assert model.lm_head.weight is model.transformer.wte.weight
    C, V, L, P = config.n_embd, config.vocab_size, config.n_layer, config.block_size
    per_block = 12 * C * C + 13 * C  # weights + biases of attention, MLP and the two LayerNorms
    expected = V * C + P * C + L * per_block + 2 * C
    assert model.num_parameters() == expected
    assert model.num_parameters(exclude_embeddings=True) == expected - V * C - P * C

    std = lambda name: dict(model.named_parameters())[name].std().item()  # noqa: E731
    assert abs(std("transformer.h.0.mlp.c_fc.weight") - 0.02) < 0.002
    assert abs(std("transformer.wte.weight") - 0.02) < 0.002
    scaled = 0.02 / math.sqrt(2 * L)
    assert abs(std("transformer.h.3.mlp.c_proj.weight") - scaled) < 0.1 * scaled
    assert abs(std("transformer.h.5.attn.c_proj.weight") - scaled) < 0.1 * scaled
    assert dict(model.named_parameters())["transformer.h.0.attn.c_attn.bias"].abs().max() == 0

    no_bias = GPT(GPTConfig(vocab_size=300, block_size=64, n_layer=8, n_head=4, n_embd=64, bias=False))
    assert no_bias.num_parameters() == expected - L * 11 * C - C  # 9C Linear + 2C LayerNorm biases per block


# --- the two attention paths --------------------------------------------------------------


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_sdpa_and_course_attention_agree(cfg):
    sdpa = make_model(make_config(*cfg, attn_impl="sdpa"), seed=1)
    course = GPT(make_config(*cfg, attn_impl="course")).eval()
    course.load_state_dict(sdpa.state_dict())
    torch.manual_seed(2)
    for B, T in [(1, 1), (2, cfg[1] // 2), (3, cfg[1])]:
        idx = torch.randint(0, cfg[0], (B, T))
        assert_close(course(idx)[0], sdpa(idx)[0], f"course vs sdpa logits, B={B} T={T}")


@pytest.mark.parametrize("attn_impl", ["sdpa", "course"])
def test_backward_and_dropout(attn_impl):
    config = make_config(50, 16, 2, 2, 8, True, attn_impl=attn_impl, dropout=0.2)
    model = make_model(config).train()
    idx = torch.randint(0, 50, (2, 16))
    _, loss = model(idx[:, :-1], idx[:, 1:])
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    torch.manual_seed(0)
    a = model(idx)[0]
    torch.manual_seed(1)
    b = model(idx)[0]
    assert not torch.allclose(a, b), "dropout should make two training passes differ"
    model.eval()
    assert_close(model(idx)[0], model(idx)[0], "eval mode is deterministic", atol=0.0)


# --- KV cache and generation --------------------------------------------------------------


@pytest.mark.parametrize("attn_impl", ["sdpa", "course"])
def test_cache_in_chunks_matches_full_forward(attn_impl):
    """Feeding a sequence in pieces through the cache (prefill, one token, several tokens)
    gives the logits of one full pass."""
    config = make_config(97, 32, 2, 2, 16, True, attn_impl=attn_impl)
    model = make_model(config, seed=3)
    idx = torch.randint(0, 97, (3, 30))
    full, _ = model(idx)
    cache = model.make_kv_cache(batch_size=3)
    start = 0
    for size in [7, 1, 1, 5, 2, 1, 13]:
        part, _ = model(idx[:, start : start + size], kv_cache=cache)
        assert_close(part, full[:, start : start + size], f"cached logits for positions {start}..{start + size - 1}")
        start += size
    assert cache.pos == 30


@pytest.mark.parametrize("attn_impl", ["sdpa", "course"])
@pytest.mark.parametrize("cfg", CONFIGS[1:4], ids=str)
def test_generate_with_cache_matches_recompute(cfg, attn_impl):
    model = make_model(make_config(*cfg, attn_impl=attn_impl), seed=4)
    block = cfg[1]
    torch.manual_seed(5)
    for B, T, n in [(1, 1, 5), (2, 3, 9), (4, 5, block - 5), (3, block - 1, 1), (2, 4, 0)]:
        idx = torch.randint(0, cfg[0], (B, T))
        cached = generate(model, idx, n)
        recomputed = generate(model, idx, n, use_cache=False)
        assert cached.shape == (B, T + n)
        assert_same_tokens(cached[:, :T], idx, "prompt is returned unchanged")
        assert_same_tokens(cached, recomputed, f"cache vs recompute, B={B} T={T} n={n}")
    assert_same_tokens(model.generate(idx, 3), generate(model, idx, 3), "method vs function")


def test_generate_errors_and_modes():
    model = make_model(make_config(50, 16, 1, 2, 8, True))
    idx = torch.randint(0, 50, (2, 10))
    with pytest.raises(ValueError, match="block_size"):
        generate(model, idx, 7)
    generate(model, idx, 6)  # exactly block_size: fine
    with pytest.raises(TypeError, match="dtype"):
        generate(model, idx.float(), 2)
    with pytest.raises(ValueError):
        generate(model, idx[0], 2)
    model.train()
    generate(model, idx, 2)
    assert model.training, "generate must restore training mode"


def test_generate_next_token_hook():
    model = make_model(make_config(50, 16, 1, 2, 8, True))
    idx = torch.randint(0, 50, (3, 4))
    seen = []

    def least_likely(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        seen.append((tuple(logits.shape), ids.clone()))
        return logits.argmin(dim=-1)

    out = generate(model, idx, 5, next_token=least_likely)
    assert [shape for shape, _ in seen] == [(3, 50)] * 5
    for step, (_, ids) in enumerate(seen):  # the hook sees every token so far: prompt + generated
        assert_same_tokens(ids, out[:, : 4 + step], f"ids given to the hook at step {step}")
    full, _ = model(out)
    assert_same_tokens(out[:, 4:], full[:, 3:-1].argmin(dim=-1), "tokens follow the hook")
    for use_cache in (True, False):
        assert_same_tokens(
            generate(model, idx, 5, next_token=greedy, use_cache=use_cache),
            generate(model, idx, 5),
            "greedy is the default",
        )


def test_generate_eos_stops_per_sequence():
    model = make_model(make_config(97, 32, 2, 2, 16, True), seed=6)
    torch.manual_seed(7)
    idx = torch.randint(0, 97, (4, 3))
    free = generate(model, idx, 20)
    eos = int(free[0, 3 + 2])  # sequence 0 produces it as (at the latest) its third new token
    first0 = int((free[0, 3:] == eos).nonzero()[0])
    out = generate(model, idx, 20, eos_token_id=eos)
    for b in range(4):
        new = out[b, 3:]
        hits = (new == eos).nonzero()
        if len(hits):
            first = int(hits[0])
            assert_same_tokens(new[:first], free[b, 3 : 3 + first], f"sequence {b} before eos")
            assert (new[first:] == eos).all(), f"sequence {b} must keep emitting eos after it: {new.tolist()}"
        else:
            assert_same_tokens(new, free[b, 3 : 3 + len(new)], f"sequence {b} without eos")
    all_eos = generate(model, idx[:1], 20, eos_token_id=eos)
    assert all_eos.shape == (1, 3 + first0 + 1), "generation stops once every sequence has produced eos"


# --- Hugging Face conversion ----------------------------------------------------------------


@pytest.mark.parametrize("hf_attn", ["eager", "sdpa"])
@pytest.mark.parametrize("cfg", HF_CONFIGS, ids=str)
def test_to_hf_logits_and_greedy_generation(cfg, hf_attn):
    model = make_model(make_config(*cfg), seed=8)
    hf = to_hf(model, attn_implementation=hf_attn).eval()
    assert isinstance(hf, transformers.GPT2LMHeadModel)
    assert hf.num_parameters() == model.num_parameters()
    vocab, block = cfg[0], cfg[1]
    torch.manual_seed(9)
    for B, T in [(1, 1), (2, block // 2), (3, block)]:
        idx = torch.randint(0, vocab, (B, T))
        with torch.no_grad():
            expected = hf(idx).logits
        assert_close(model(idx)[0], expected, f"ours vs HF ({hf_attn}) logits, B={B} T={T}")
    for B, T, n in [(1, 2, block - 2), (3, 5, 8)]:
        idx = torch.randint(0, vocab, (B, T))
        assert_same_tokens(generate(model, idx, n), hf_greedy(hf, idx, n), f"greedy vs HF, B={B} T={T} n={n}")


def test_greedy_generation_with_eos_matches_hf():
    model = make_model(make_config(97, 32, 2, 2, 16, True), seed=6)
    hf = to_hf(model).eval()
    torch.manual_seed(7)
    idx = torch.randint(0, 97, (4, 3))
    eos = int(generate(model, idx, 20)[0, 5])
    assert_same_tokens(generate(model, idx, 20, eos_token_id=eos), hf_greedy(hf, idx, 20, eos), "eos generation vs HF")


@pytest.mark.parametrize("attn_impl", ["sdpa", "course"])
@pytest.mark.parametrize("cfg", HF_CONFIGS, ids=str)
def test_from_hf_logits_and_greedy_generation(cfg, attn_impl):
    vocab, block, n_layer, n_head, n_embd, _ = cfg
    hf_config = transformers.GPT2Config(
        vocab_size=vocab,
        n_positions=block,
        n_layer=n_layer,
        n_head=n_head,
        n_embd=n_embd,
        bos_token_id=None,
        eos_token_id=None,
        attn_implementation="eager",
    )
    torch.manual_seed(10)
    hf = transformers.GPT2LMHeadModel(hf_config).eval()
    spread_(hf)
    model = from_hf(hf, attn_impl=attn_impl)
    assert model.config.block_size == block and model.config.attn_impl == attn_impl
    assert not model.training
    assert model.lm_head.weight is model.transformer.wte.weight
    for B, T in [(1, 1), (2, block)]:
        idx = torch.randint(0, vocab, (B, T))
        with torch.no_grad():
            expected = hf(idx).logits
        assert_close(model(idx)[0], expected, f"from_hf vs HF logits, B={B} T={T}")
    idx = torch.randint(0, vocab, (2, 3))
    n = block - 3
    assert_same_tokens(generate(model, idx, n), hf_greedy(hf, idx, n), f"from_hf greedy vs HF, n={n}")

    # and back again: the same weights
    back = to_hf(model)
    for (name, p), (name2, q) in zip(hf.state_dict().items(), back.state_dict().items()):
        assert name == name2
        assert_close(q, p, f"round trip of {name}", atol=0.0)


def test_conversion_errors():
    with pytest.raises(ValueError, match="bias=False"):
        to_hf(GPT(make_config(50, 16, 1, 2, 8, False)))
    hf_config = transformers.GPT2Config(
        vocab_size=50, n_positions=16, n_layer=1, n_head=2, n_embd=8, scale_attn_by_inverse_layer_idx=True
    )
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx"):
        from_hf(transformers.GPT2LMHeadModel(hf_config))
    with pytest.raises(TypeError):
        from_hf(GPT(make_config(50, 16, 1, 2, 8, True)))


def test_greedy_match_length_counts_the_verbatim_prefix():
    from llmcourse.gpt import greedy_match_length

    model = make_model(make_config(*CONFIGS[1]))
    prefixes = torch.randint(0, 97, (3, 5), generator=torch.Generator().manual_seed(0))
    own = generate(model, prefixes, 6)[:, 5:]  # what greedy decoding writes: reproduced in full
    assert greedy_match_length(model, prefixes, own).tolist() == [6, 6, 6]
    wrong = own.clone()
    wrong[0, 0] = (wrong[0, 0] + 1) % 97  # the first token differs: nothing reproduced
    wrong[1, 4] = (wrong[1, 4] + 1) % 97  # the fifth differs: four reproduced
    assert greedy_match_length(model, prefixes, wrong).tolist() == [0, 4, 6]


def test_a_block_on_its_own_needs_no_layer_index():
    """Block(config) alone (the stand-in the chapter 03 checks give a student's GPT) is slot 0."""
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8)
    block = Block(config)
    assert block.attn.layer_idx == 0 and block(torch.randn(1, 3, 8)).shape == (1, 3, 8)
