"""Chapter 03's checks in the student's kernel: messages that name the mistake, forbidden routes
caught (Hugging Face's and the course's blocks, the fused attention kernel, Hugging Face's and
the course's losses), the trusted causal_mask stand-in, and oracles that agree with
Hugging Face's own models."""

import copy
import math

import pytest
import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

import llmcourse.attention
import llmcourse.gpt
from llmcourse import losses, train
from llmcourse.grading import GradingError, ch03, contract
from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.ch03.block import SOLUTION as _BLOCK_SOLUTION
from llmcourse.grading.ch03.block import _padding
from llmcourse.grading.ch03.causal_lm_loss import _loss_expected, _pad
from llmcourse.grading.ch03.causal_mask import _mask_expected
from llmcourse.grading.ch03.gpt import SOLUTION as _GPT_SOLUTION
from llmcourse.grading.ch03.train_step import SOLUTION as _STEP_SOLUTION
from llmcourse.grading.contract import array_of, check, failure_of, mistake_answer, to_plain
from llmcourse.grading.guards import scan_source
from llmcourse.grading.kit import variant
from llmcourse.grading.runners.ch03 import RUNNERS, _module_at

ALTERNATIVE_CODE = alternatives_of(
    "03_gpt_deep_dive"
)  # autograde/alternatives/: valid answers, never shipped to students


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def answer(exercise, code, **names):
    namespace = dict(names)
    exec(code, namespace)
    return namespace[exercise.name]


CHECKS = {
    "causal_mask": ch03.check_causal_mask,
    "causal_lm_loss": ch03.check_causal_lm_loss,
    "block": ch03.check_block,
    "gpt": ch03.check_gpt,
    "train_step": ch03.check_train_step,
}
MISTAKES = [(key, m) for key, exercise in ch03.EXERCISES.items() for m in exercise.mistakes]


@pytest.mark.parametrize("key, mistake", MISTAKES, ids=[f"{k}-{m.id}" for k, m in MISTAKES])
def test_visible_feedback_names_the_likely_mistake(key, mistake):
    with pytest.raises(GradingError) as failure:
        CHECKS[key](mistake_answer(ch03.EXERCISES[key], mistake))
    assert f"Likely mistake: {mistake.message}" in str(failure.value)


def test_messages_say_the_inputs_and_the_values():
    no_shift = mistake_answer(ch03.CAUSAL_LM_LOSS, next(m for m in ch03.CAUSAL_LM_LOSS.mistakes if m.id == "no_shift"))
    with pytest.raises(GradingError) as failure:
        ch03.check_causal_lm_loss(no_shift)
    text = str(failure.value)
    assert "logits (1, 5, 7) float32, input_ids (1, 5), no attention_mask: expected" in text and "got" in text
    future = mistake_answer(ch03.CAUSAL_MASK, ch03.CAUSAL_MASK.mistakes[0])
    with pytest.raises(GradingError, match=r"(?s)causal mask .* for T=4: values differ.*at index \(0, 1\)"):
        ch03.check_causal_mask(future)
    floats = mistake_answer(ch03.CAUSAL_MASK, next(m for m in ch03.CAUSAL_MASK.mistakes if m.id == "float"))
    with pytest.raises(GradingError, match=r"expected a torch.bool tensor of shape \(3, 3\), got torch.float32"):
        ch03.check_causal_mask(floats)


@pytest.mark.parametrize(
    "key, mistake_id, failed",
    [
        ("causal_lm_loss", "mean_per_sequence", 1),
        ("causal_lm_loss", "item", 1),
        ("block", "ignores_padding", 1),
        ("block", "nan_padding", 1),
        ("block", "exact_gelu", 3),
        ("causal_mask", "float", 1),
        ("gpt", "counts_ignored", 1),
        ("gpt", "last_position_only", 1),
        ("gpt", "tied_by_copy", 4),
        ("train_step", "no_zero_grad", 1),
        ("train_step", "clip_by_value", 1),
        ("train_step", "returns_tensor", 1),
        ("train_step", "no_train_mode", 1),
    ],
)
def test_partial_credit_follows_the_requirements(key, mistake_id, failed):
    exercise = ch03.EXERCISES[key]
    wrong = mistake_answer(exercise, next(m for m in exercise.mistakes if m.id == mistake_id))
    with pytest.raises(GradingError, match=f"{failed} of {len(exercise.subchecks)} requirements"):
        check(exercise, wrong, hidden=True, quiet=True)


# ---------------------------------------------------------------- forbidden routes

SOLUTION_BLOCK = answer(ch03.BLOCK, _BLOCK_SOLUTION)


class WrapsHuggingFace(nn.Module):
    """Builds the required submodules, but computes with transformers' GPT2Block."""

    def __init__(self, config):
        super().__init__()
        from transformers.models.gpt2.modeling_gpt2 import GPT2Block

        hf_config = GPT2Config(
            n_embd=config.n_embd, n_head=config.n_head, n_positions=config.block_size, activation_function="gelu_new"
        )
        hf_config._attn_implementation = "eager"
        self.inner = GPT2Block(hf_config, layer_idx=0)
        self.ln_1, self.ln_2, self.attn, self.mlp = (
            self.inner.ln_1,
            self.inner.ln_2,
            SOLUTION_BLOCK(config).attn,
            SOLUTION_BLOCK(config).mlp,
        )

    def forward(self, x, attention_mask=None):
        return self.inner(x)


class SubclassesCourse(llmcourse.gpt.Block):
    def __init__(self, config):
        super().__init__(config, 0)


def _with_attention(attend):
    """The solution's block with its attention computed by ``attend(q, k, v, allowed)``."""

    class Attention(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.n_head = config.n_head
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd)

        def forward(self, x, attention_mask=None):
            B, T, C = x.shape
            q, k, v = (t.view(B, T, self.n_head, -1).transpose(1, 2) for t in self.c_attn(x).split(C, dim=-1))
            allowed = torch.ones(T, T, dtype=torch.bool).tril()
            if attention_mask is not None:
                allowed = allowed & attention_mask.bool()[:, None, None, :]
            return self.c_proj(attend(q, k, v, allowed).transpose(1, 2).reshape(B, T, C))

    class Block(SOLUTION_BLOCK):
        def __init__(self, config):
            super().__init__(config)
            self.attn = Attention(config)

    return Block


def fused(q, k, v, allowed):
    from torch.nn.functional import scaled_dot_product_attention as fast  # an alias: still caught

    return fast(q, k, v, attn_mask=allowed)


def aten(q, k, v, allowed):
    with torch._C.DisableTorchFunction():  # invisible to the torch-function layer
        return torch.ops.aten.scaled_dot_product_attention(q, k, v, attn_mask=allowed)


def course_attention(q, k, v, allowed):
    return llmcourse.attention.scaled_dot_product_attention(q, k, v, allowed)[0]


@pytest.mark.parametrize(
    "cls, used",
    [
        (WrapsHuggingFace, "GPT2Block"),  # its __init__, a closure (super()), is swapped too
        (SubclassesCourse, r"llmcourse\.gpt\.(Block|MLP|CausalSelfAttention)"),
        (_with_attention(fused), "scaled_dot_product_attention"),
        (_with_attention(aten), "aten::_scaled_dot_product"),
        (_with_attention(course_attention), "llmcourse.attention.scaled_dot_product_attention"),
    ],
)
def test_forbidden_block_routes_are_caught_and_named(cls, used):
    with pytest.raises(GradingError, match=f"must be written by you.*{used}"):
        ch03.check_block(cls)
    config = llmcourse.gpt.GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8)
    assert llmcourse.gpt.Block(config, 0)(torch.randn(1, 3, 8)).shape == (1, 3, 8), (
        "the course's block works again afterwards"
    )


def test_forbidden_loss_and_mask_routes_are_caught():
    from transformers.loss.loss_utils import ForCausalLMLoss

    def hf_loss(logits, input_ids, attention_mask=None):
        labels = input_ids if attention_mask is None else input_ids.masked_fill(attention_mask == 0, -100)
        return ForCausalLMLoss(logits, labels, vocab_size=logits.shape[-1])

    with pytest.raises(GradingError, match="must be written by you.*ForCausalLMLoss"):
        ch03.check_causal_lm_loss(hf_loss)
    with pytest.raises(GradingError, match="must be written by you.*llmcourse.losses.causal_lm_loss"):
        ch03.check_causal_lm_loss(losses.causal_lm_loss)
    with pytest.raises(GradingError, match="must be written by you.*llmcourse.attention.causal_mask"):
        ch03.check_causal_mask(lambda T: llmcourse.gpt.causal_mask(T))  # the same function, imported elsewhere


@pytest.mark.parametrize(
    "source, exercise",
    [
        ("from transformers.models.gpt2.modeling_gpt2 import GPT2Block", ch03.BLOCK),
        ("y = F.scaled_dot_product_attention(q, k, v, is_causal=True)", ch03.BLOCK),
        ("from llmcourse.attention import causal_mask as cm", ch03.CAUSAL_MASK),
        ("loss = model.loss_function(logits, labels, vocab_size)", ch03.CAUSAL_LM_LOSS),
        ("from llmcourse.losses import causal_lm_loss as mine", ch03.CAUSAL_LM_LOSS),
    ],
)
def test_the_source_scan_sees_forbidden_names(source, exercise):
    assert scan_source(source, exercise.forbidden.names)


# ---------------------------------------------------------------- stand-ins and messages


def test_block_uses_a_trusted_causal_mask_and_puts_the_students_back():
    code = ALTERNATIVE_CODE["block"][0]  # calls causal_mask(T)
    wrong = mistake_answer(ch03.CAUSAL_MASK, ch03.CAUSAL_MASK.mistakes[0])  # the student's own, wrong mask
    namespace = {"causal_mask": wrong}
    exec(code, namespace)
    ch03.check_block(namespace["Block"], hidden=True)
    assert namespace["causal_mask"] is wrong
    del namespace["causal_mask"]  # missing altogether (its cell raised)
    ch03.check_block(namespace["Block"])
    assert "causal_mask" not in namespace


def test_a_missing_submodule_is_named():
    class NoMLP(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(config.n_embd), nn.LayerNorm(config.n_embd)
            self.attn = SOLUTION_BLOCK(config).attn

    with pytest.raises(GradingError, match=r"needs nn.Linear\(8, 32\) \(weight \(32, 8\)\) at block.mlp.c_fc"):
        ch03.check_block(NoMLP)


def test_unimplemented_stubs_get_a_clear_message():
    def stub(*args):
        raise NotImplementedError()

    for run in CHECKS.values():
        with pytest.raises(GradingError, match="not implemented"):
            run(stub)


# ---------------------------------------------------------------- the oracles


@pytest.mark.parametrize("seed", range(3))
def test_the_loss_oracle_is_the_loss_gpt2lmheadmodel_returns(seed):
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(
        GPT2Config(vocab_size=29, n_positions=16, n_embd=16, n_layer=1, n_head=2, initializer_range=0.4)
    ).eval()
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(29, (3, 9), generator=g)
    for mask in (None, _pad("both", 3, 9, [9, 5, 7], g), _pad("left", 3, 9, [2, 9, 4], g)):
        with torch.no_grad():
            out = model(ids, attention_mask=mask, labels=losses.causal_lm_labels(ids, mask))
        expected, _ = _loss_expected(out.logits, ids, mask)
        assert math.isclose(expected.item(), out.loss.item(), rel_tol=1e-6)


@pytest.mark.parametrize("kind", ["none", "right", "left", "scattered"])
def test_the_block_oracle_mask_is_the_one_gpt2model_builds(kind):
    """Run GPT2Model with a padding mask, catch its block's input and output, and compare with
    the check's GPT2Block called with ch03.hf_attention_mask at the token positions."""
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=31, n_positions=16, n_embd=16, n_layer=1, n_head=4, activation_function="gelu_new")
    config._attn_implementation = "eager"
    model = GPT2Model(config).double().eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(31, (3, 7), generator=g)
    mask = _padding(kind, 3, 7, g)
    seen = {}
    model.h[0].register_forward_hook(lambda module, args, output: seen.update(x=args[0], out=output))
    with torch.no_grad():
        model(ids, attention_mask=mask)
        ours = model.h[0](seen["x"], attention_mask=ch03.hf_attention_mask(mask, 7))
    out = seen["out"][0] if isinstance(seen["out"], tuple) else seen["out"]
    tokens = torch.ones(3, 7, dtype=torch.bool) if mask is None else mask.bool()
    torch.testing.assert_close(ours[tokens], out[tokens])


def test_the_mask_oracle_is_the_lower_triangle():
    for T in (1, 2, 9, 64):
        assert torch.equal(_mask_expected(T), torch.ones(T, T, dtype=torch.bool).tril())


def test_the_course_block_with_gpt2_weights_matches_the_block_oracle():
    """The course's own llmcourse.gpt.Block (layer_idx kept) computes what the checks expect."""
    case = next(c for c in ch03.BLOCK.cases(False) if c.subcheck == "forward")
    block = llmcourse.gpt.Block(llmcourse.gpt.GPTConfig(**case.inputs["config"]), 0).eval()
    with torch.no_grad():
        for name, value in case.inputs["weights"].items():
            path, _, kind = name.rpartition(".")
            getattr(_module_at(block, path), kind).copy_(torch.from_numpy(value))
        got = block(torch.from_numpy(case.inputs["x"]))
    torch.testing.assert_close(got.double(), torch.from_numpy(array_of(case.expected).copy()), atol=5e-5, rtol=1e-4)


# ---------------------------------------------------------------- exercises 4 and 5: the GPT and its training step


def _solution(exercise, code):
    namespace = {name: contract.load_qualname(target) for name, target in exercise.depends.items()}
    exec(code, namespace)
    return namespace[exercise.name]


class SubclassesCourseGPT(llmcourse.gpt.GPT):
    pass


class WrapsGPT2LMHeadModel(nn.Module):
    """The required modules, computed by transformers' model."""

    def __init__(self, config):
        super().__init__()
        self.inner = llmcourse.gpt.to_hf(llmcourse.gpt.GPT(config))
        self.transformer, self.lm_head = self.inner.transformer, self.inner.lm_head

    def forward(self, idx, targets=None):
        return self.inner(idx).logits, None


@pytest.mark.parametrize(
    "cls, used",
    [(SubclassesCourseGPT, r"llmcourse\.gpt\.GPT"), (WrapsGPT2LMHeadModel, r"llmcourse\.gpt\.(GPT|to_hf)")],
)
def test_forbidden_gpt_routes_are_caught_and_named(cls, used):
    with pytest.raises(GradingError, match=f"must be written by you.*{used}"):
        ch03.check_gpt(cls)


def test_forbidden_train_step_routes_are_caught():
    with pytest.raises(GradingError, match="must be written by you.*llmcourse.train.train_step"):
        ch03.check_train_step(lambda *args: train.train_step(*args))
    assert scan_source("from transformers import Trainer", ch03.TRAIN_STEP.forbidden.names)
    assert scan_source("from llmcourse.train import train_step as mine", ch03.TRAIN_STEP.forbidden.names)
    assert scan_source("from transformers import GPT2LMHeadModel", ch03.GPT_EXERCISE.forbidden.names)


def test_gpt_uses_a_trusted_block_and_puts_the_students_back():
    wrong = mistake_answer(ch03.BLOCK, next(m for m in ch03.BLOCK.mistakes if m.id == "post_ln"))
    namespace = {"Block": wrong}
    exec(_GPT_SOLUTION, namespace)
    ch03.check_gpt(namespace["GPT"], hidden=True)
    assert namespace["Block"] is wrong


def test_the_gpt_oracle_is_what_the_course_gpt_computes_with_shifted_targets():
    """The course's llmcourse.gpt.GPT (nanoGPT's convention: targets already shifted, -100 ignored)
    with the case's weights gives every expected result: the logits of GPT2LMHeadModel, and its
    loss with labels one token longer, shifted inside."""
    for case in ch03.GPT_EXERCISE.cases(True):
        got = to_plain(RUNNERS["gpt"](llmcourse.gpt.GPT, copy.deepcopy(case.inputs)))
        assert failure_of(ch03.GPT_EXERCISE, case, got) is None, case.label


def test_the_train_step_oracle_is_what_the_course_train_step_does():
    for case in ch03.TRAIN_STEP.cases(True):
        got = to_plain(RUNNERS["train_step"](train.train_step, copy.deepcopy(case.inputs)))
        assert failure_of(ch03.TRAIN_STEP, case, got) is None, case.label


def test_the_train_step_cases_clip_only_where_they_say():
    """Clipping is active in every clip case and in no other, so a clipping mistake costs the clip
    requirement only (AdamW hides clipping: its first step divides the gradient by its own size)."""
    for case in ch03.TRAIN_STEP.cases(True):
        assert ("clipping active" in case.label) == (case.subcheck == "clip"), case.label
        if case.subcheck == "clip":
            assert case.inputs["optimizer"][0] == "sgd"


def test_the_tied_check_accepts_a_head_without_a_module_and_the_other_way_round():
    """Tying wte to the head's Parameter (nanoGPT) or using wte.weight directly both pass."""
    code = _solution_variant(
        ("        self.lm_head.weight = self.transformer.wte.weight\n", ""),
        ("logits = self.lm_head(x)", "logits = x @ self.transformer.wte.weight.T"),
        ("        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)\n", ""),
    )
    ch03.check_gpt(_solution(ch03.GPT_EXERCISE, code), hidden=True)
    code = _solution_variant(
        ("self.lm_head.weight = self.transformer.wte.weight", "self.transformer.wte.weight = self.lm_head.weight")
    )
    ch03.check_gpt(_solution(ch03.GPT_EXERCISE, code), hidden=True)


def _solution_variant(*replacements):
    return variant(_GPT_SOLUTION, *replacements)


def test_the_solutions_pass():
    ch03.check_gpt(_solution(ch03.GPT_EXERCISE, _GPT_SOLUTION), hidden=True)
    ch03.check_train_step(_solution(ch03.TRAIN_STEP, _STEP_SOLUTION), hidden=True)
