"""Exercise 3, ``Block(config)``, a GPT-2 decoder block, against Hugging Face's ``GPT2Block``
(eager attention, float64) with the same weights (its Conv1D weights are the transposes of
``nn.Linear``'s) and the 4-d additive mask Hugging Face's ``GPT2Model`` builds from a padding mask
(``tests/test_grading_ch03.py`` checks that mask too); a correct ``causal_mask`` stands in for the
student's while it runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

# Imported here, not when a check runs: the grading engine's server imports this module once,
# so the students' processes (whose guards name these functions) start with them loaded.
import transformers.integrations.sdpa_attention  # noqa: F401
from transformers import GPT2Config
from transformers.models.gpt2.modeling_gpt2 import GPT2Block

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    check,
    expect_tensor,
    kind_of,
    to_plain,
    values_of,
)
from llmcourse.grading.kit import cases_once, catalogue, seeded
from llmcourse.grading.runners.ch03 import LINEARS, NORMS, RUNNERS
from llmcourse.grading.wire import tensor_meta

from .common import ATTENTION, GPT, HF_GPT2, as_array

FUSED_TORCH = ("torch.nn.functional.scaled_dot_product_attention", "torch.nn.functional.multi_head_attention_forward")
FUSED_ATEN = ("scaled_dot_product", "multi_head_attention")


def _hf_block(C: int, H: int, T_max: int, seed: int) -> tuple[GPT2Block, dict[str, torch.Tensor]]:
    """A float64 GPT2Block with random weights (large enough that every mistake shows), and the
    same weights in nn.Linear's orientation (Conv1D stores (in, out); nn.Linear (out, in))."""
    config = GPT2Config(
        n_embd=C,
        n_head=H,
        n_positions=T_max,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
    )
    config._attn_implementation = "eager"
    block = GPT2Block(config, layer_idx=0).double().eval()
    g = seeded(seed)
    linear_weights = {}
    with torch.no_grad():
        for name, p in block.named_parameters():
            if name.endswith("weight") and name.split(".")[0] in NORMS:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64))
            else:
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) / p.shape[0] ** 0.5 * 1.5)
            linear_weights[name] = (
                (p.t() if name.removesuffix(".weight") in LINEARS and name.endswith("weight") else p).float().clone()
            )
    return block, linear_weights


def hf_attention_mask(attention_mask: torch.Tensor | None, T: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The 4-d additive mask ``(B or 1, 1, T, T)`` GPT2Model gives its blocks (eager attention):
    0 where query i may see key j (j <= i and key j is not padding), the dtype's minimum elsewhere."""
    allowed = torch.ones(T, T, dtype=torch.bool).tril()[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask.bool()[:, None, None, :]
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


def _padding(kind: str, B: int, T: int, g: torch.Generator) -> torch.Tensor | None:
    if kind == "none":
        return None
    lengths = torch.randint(max(1, T // 2), T, (B,), generator=g)
    positions = torch.arange(T)
    if kind == "scattered":
        mask = (torch.rand(B, T, generator=g) > 0.35).long()
        mask[:, 0] = 1
        return mask
    right = (positions[None, :] < lengths[:, None]).long()
    left = (positions[None, :] >= T - lengths[:, None]).long()
    if kind == "right":
        return right
    if kind == "left":
        return left
    return torch.where(torch.arange(B)[:, None] % 2 == 0, right, left)  # "both": alternate rows


def _block_case(sub: str, C: int, H: int, B: int, T: int, pad: str, seed: int, visible: bool) -> Case:
    T_max = 16
    block, weights = _hf_block(C, H, T_max, seed)
    g = seeded(1000 + seed)
    x = torch.randn(B, T, C, generator=g)
    mask = _padding(pad, B, T, g)
    config = {"vocab_size": 16, "block_size": T_max, "n_layer": 1, "n_head": H, "n_embd": C}
    inputs = {
        "kind": sub,
        "config": config,
        "weights": {k: as_array(w) for k, w in weights.items()},
        "x": as_array(x),
        "mask": as_array(mask),
    }
    label = f"GPTConfig(n_embd={C}, n_head={H}), x ({B}, {T}, {C})"
    if sub == "modules":
        expected = {f"{name}": ["LayerNorm", [C], True] for name in NORMS}
        expected |= {name: ["Linear", [a * C, b * C], True] for name, (a, b) in LINEARS.items()}
        return Case(sub, inputs, to_plain(expected), f"Block(GPTConfig(n_embd={C}, n_head={H}))", visible)
    with torch.no_grad():
        if sub == "gelu":
            out = block.mlp(x.double())
            label = f"block.mlp on x ({B}, {T}, {C}), n_embd={C}"
        else:
            out = block(x.double(), attention_mask=hf_attention_mask(mask, T))
            if isinstance(out, tuple):  # transformers 4.x: (hidden_states, ...)
                out = out[0]
            if mask is not None:
                label += f", attention_mask {mask.tolist() if B * T <= 16 else (B, T)} ({pad} padding)"
            else:
                label += ", no attention_mask"
    return Case(sub, inputs, to_plain(out.float()), label, visible)


@cases_once
def _block_cases(hidden: bool) -> list[Case]:
    cases = [
        _block_case("modules", 8, 2, 1, 3, "none", 0, True),
        _block_case("modules", 12, 3, 1, 3, "none", 1, True),
        _block_case("gelu", 8, 2, 2, 3, "none", 2, True),
        _block_case("forward", 8, 2, 1, 4, "none", 3, True),
        _block_case("forward", 12, 3, 2, 5, "none", 4, True),
        _block_case("padding", 8, 2, 2, 4, "right", 5, True),
        _block_case("padding", 8, 2, 2, 5, "left", 6, True),
    ]
    if hidden:
        configs = [(8, 1, 2, 6), (16, 4, 2, 7), (24, 3, 3, 9), (32, 8, 1, 12), (12, 2, 2, 1)]
        for n, (C, H, B, T) in enumerate(configs):
            cases += [
                _block_case("modules", C, H, B, T, "none", 10 + n, False),
                _block_case("gelu", C, H, B, T, "none", 20 + n, False),
                _block_case("forward", C, H, B, T, "none", 30 + n, False),
            ]
            if T > 1:
                cases += [
                    _block_case("padding", C, H, B, T, kind, 40 + 3 * n + i, False)
                    for i, kind in enumerate(("both", "left", "scattered"))
                ]
    return cases


def _block_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "modules":
        have = got.get("dict", {}) if isinstance(got, dict) else {}
        for path, want in expected["dict"].items():
            want = [want["list"][0], want["list"][1]["list"], want["list"][2]]
            found = have.get(path)
            layer = found.get("list") if isinstance(found, dict) else None
            shape = layer[1].get("list") if layer and isinstance(layer[1], dict) else None
            what = (
                f"nn.{want[0]}({want[1][0]})"
                if want[0] == "LayerNorm"
                else f"nn.Linear({want[1][1]}, {want[1][0]}) (weight {tuple(want[1])})"
            )
            if layer is None:
                raise GradingError(f"{case.label} needs {what} at block.{path}; none found")
            if [layer[0], shape, layer[2]] != want:
                got_what = (
                    f"an {layer[0]}"
                    if shape is None
                    else f"nn.{layer[0]} with weight {tuple(shape)}, bias {'present' if layer[2] else 'absent'}"
                )
                raise GradingError(f"{case.label}: block.{path} should be {what} with a bias; got {got_what}")
        return
    if case.subcheck != "padding":
        expect_tensor(
            got,
            expected,
            what="block.mlp(x)" if case.subcheck == "gelu" else "block(x)",
            context=case.label,
            atol=5e-5,
            rtol=1e-4,
        )
        return
    # Padding: positions that hold tokens must equal GPT2Block's; padding positions may hold any
    # finite value (a NaN there would reach every position of the next block through 0 * NaN).
    if tensor_meta(got) is None:
        raise GradingError(f"block(x, attention_mask) for {case.label}: expected a torch.Tensor, got {kind_of(got)}")
    a, e = values_of(got), values_of(expected)
    if a.shape != e.shape:
        raise GradingError(f"block(x, attention_mask) for {case.label}: expected shape {e.shape}, got {a.shape}")
    tokens = case.inputs["mask"].astype(bool)
    expect_tensor(
        to_plain(torch.from_numpy(np.ascontiguousarray(a[tokens]))),
        to_plain(torch.from_numpy(np.ascontiguousarray(e[tokens]))),
        what="block(x, attention_mask) at the positions that hold tokens (attention_mask 1)",
        context=case.label,
        atol=5e-5,
        rtol=1e-4,
    )
    pad_got, pad_expected = a[~tokens], e[~tokens]
    if np.isfinite(pad_expected).all():
        if not np.isfinite(pad_got).all():
            raise GradingError(
                f"block(x, attention_mask) for {case.label}: NaN or inf at padding positions. A padding query "
                "with no key left to attend to gets softmax over nothing but -inf; NaN there spreads to every "
                "position of the next block (0 * NaN = NaN)"
            )
    elif not np.array_equal(np.isnan(pad_got), np.isnan(pad_expected)):
        raise GradingError("the padding positions differ")


# The reference answer: the tests' known good Block (each mistake in mistakes/block/ is a variant of it).
SOLUTION = """import math
import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x, attention_mask=None):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.c_attn(x).split(C, dim=-1)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(C // H)
        allowed = torch.ones(T, T, dtype=torch.bool).tril()
        if attention_mask is not None:
            allowed = allowed & attention_mask.bool()[:, None, None, :]
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        y = scores.softmax(-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x, attention_mask=None):
        x = x + self.attn(self.ln_1(x), attention_mask)
        x = x + self.mlp(self.ln_2(x))
        return x
"""


# The catalogue, in the order a match is named: each id is a file in mistakes/block/.
MISTAKES = (
    "exact_gelu",
    "relu",
    "post_ln",
    "no_residual",
    "residual_from_normed",
    "not_causal",
    "qkv_split",
    "head_split",
    "scale_by_C",
    "ignores_padding",
    "nan_padding",
    "one_norm",
)

BLOCK = Exercise(
    name="Block",
    cell="block",
    test_cell="block_tests",
    points=4,
    subchecks=(
        SubCheck(
            "modules",
            1.0,
            "submodules ln_1, ln_2 (nn.LayerNorm(C)), attn.c_attn (nn.Linear(C, 3C)), attn.c_proj "
            "(nn.Linear(C, C)), mlp.c_fc (nn.Linear(C, 4C)), mlp.c_proj (nn.Linear(4C, C)), all with biases",
        ),
        SubCheck("gelu", 0.5, "block.mlp(x) = c_proj(GELU(c_fc(x))) with GELU's tanh approximation, as GPT-2's"),
        SubCheck(
            "forward",
            1.5,
            "block(x) equals Hugging Face's GPT2Block with the same weights: pre-LN, causal "
            "multi-head self-attention (c_attn's output read as [q | k | v], scores scaled by 1 / sqrt(C / n_head)), "
            "residual connections",
        ),
        SubCheck(
            "padding",
            1.0,
            "block(x, attention_mask) with a (B, T) padding mask (1 = token, 0 = padding) equals "
            "GPT2Block at every token position, and stays finite at the padding positions",
        ),
    ),
    cases=_block_cases,
    run=RUNNERS["block"],
    compare=_block_compare,
    depends={"causal_mask": f"{ATTENTION}:causal_mask"},
    forbidden=Forbidden(
        torch=FUSED_TORCH,
        aten=FUSED_ATEN,
        python=(
            f"{GPT}:Block",
            f"{GPT}:CausalSelfAttention",
            f"{GPT}:MLP",
            f"{ATTENTION}:scaled_dot_product_attention",
            f"{ATTENTION}:MultiHeadAttention",
            "torch.nn:MultiheadAttention",
            f"{HF_GPT2}:GPT2Block",
            f"{HF_GPT2}:GPT2Attention",
            f"{HF_GPT2}:GPT2MLP",
            f"{HF_GPT2}:eager_attention_forward",
            "transformers.integrations.sdpa_attention:sdpa_attention_forward",
        ),
        names=(
            "scaled_dot_product_attention",
            "multi_head_attention_forward",
            "MultiheadAttention",
            "GPT2Block",
            "GPT2Attention",
            "GPT2MLP",
            "eager_attention_forward",
            "sdpa_attention_forward",
            ATTENTION,
        ),
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_block(cls, hidden: bool = False) -> None:
    """Exercise 3, against Hugging Face's GPT2Block with the same weights; a correct causal_mask
    stands in for yours while it runs. Hidden: more widths, heads, lengths and paddings."""
    check(BLOCK, cls, hidden)
