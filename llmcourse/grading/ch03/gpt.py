"""Exercise 4, ``GPT(config)``, against Hugging Face's ``GPT2LMHeadModel`` (tied head, no
dropout, float64) with the same weights; a correct ``Block`` stands in for the student's while it
runs."""

from __future__ import annotations

from typing import Any

import torch

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    check,
    expect_float,
    expect_tensor,
    float_of,
    items_of,
    kind_of,
    to_plain,
)
from llmcourse.grading.kit import cases_once, catalogue, seeded
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch03 import RUNNERS
from llmcourse.grading.wire import is_scalar_tensor, is_tuple

from .common import GPT, HF_GPT2, as_array, gpt_config, hf_gpt


def _gpt_case(sub: str, shape: tuple[int, ...], B: int, T: int, seed: int, visible: bool) -> Case:
    """``shape = (V, P, L, H, C)``. "loss": full windows of T + 1 tokens, Hugging Face scoring all
    T predictions (labels = the window, shifted inside); "ignore": right-padded windows, labels
    -100 at the padding. The student's model gets ``idx = window[:, :T]`` and the targets
    ``labels[:, 1:]``: already shifted, -100 where nothing is predicted."""
    V, P, L, H, C = shape
    config = gpt_config(*shape)
    label = f"GPT(GPTConfig(vocab_size={V}, block_size={P}, n_layer={L}, n_head={H}, n_embd={C}))"
    inputs: dict[str, Any] = {"kind": sub, "config": config}
    if sub == "modules":
        expected: Any = {
            "transformer.wte": ["Embedding", [V, C]],
            "transformer.wpe": ["Embedding", [P, C]],
            "transformer.ln_f": ["LayerNorm", [C]],
            "blocks": L,
        }
        return Case(sub, inputs, to_plain(expected), label, visible)
    if sub == "tied":
        return Case(sub, inputs, to_plain([1, True]), label, visible)
    model, weights = hf_gpt(V, P, L, H, C, seed)
    inputs["weights"] = {k: as_array(w) for k, w in weights.items()}
    g = seeded(2000 + seed)
    if sub == "logits":
        idx = torch.randint(V, (B, T), generator=g)
        with torch.no_grad():
            logits = model(idx).logits  # (B, T, V)
        inputs |= {"idx": as_array(idx), "targets": None}
        return Case(sub, inputs, to_plain((logits, None)), f"{label}, idx ({B}, {T}), no targets", visible)
    window = torch.randint(1, V, (B, T + 1), generator=g)
    mask = torch.ones(B, T + 1, dtype=torch.long)
    if sub == "ignore":
        lengths = [T + 1 - (b % 3) * (T // 3) for b in range(B)]  # every third row full
        for b, n in enumerate(lengths):
            mask[b, n:] = 0
        window = window.masked_fill(mask == 0, 0)
    labels = window.masked_fill(mask == 0, -100)
    with torch.no_grad():
        out = model(window, attention_mask=mask, labels=labels)  # labels shifted inside
    logits, loss = out.logits[:, :T], out.loss  # (B, T, V): causal, so those of window[:, :T]
    targets = labels[:, 1:]
    inputs |= {"idx": as_array(window[:, :T]), "targets": as_array(targets)}
    label += f", idx ({B}, {T}), targets ({B}, {T})"
    if sub == "ignore":
        label += f" with -100 at {int((targets == -100).sum())} positions (right padding)"
    return Case(sub, inputs, to_plain((logits, loss)), label, visible)


_GPT_SHAPES = {  # (V, P, L, H, C): V differs from P, C, 3C and 4C, so only wte has shape (V, C)
    "small": (37, 12, 2, 2, 8),
    "deeper": (29, 10, 3, 2, 12),
}


@cases_once
@one_thread()
def _gpt_cases(hidden: bool) -> list[Case]:
    small, deeper = _GPT_SHAPES["small"], _GPT_SHAPES["deeper"]
    cases = [
        _gpt_case("modules", small, 0, 0, 0, True),
        _gpt_case("tied", small, 0, 0, 0, True),
        _gpt_case("logits", small, 2, 7, 1, True),
        _gpt_case("logits", deeper, 1, 10, 2, True),  # T = block_size
        _gpt_case("loss", small, 2, 6, 3, True),
        _gpt_case("ignore", small, 3, 6, 4, True),
    ]
    if hidden:
        shapes = [(50, 16, 1, 1, 16), (23, 9, 4, 4, 16), (41, 20, 2, 3, 6), (17, 8, 1, 2, 2)]
        for n, shape in enumerate(shapes):
            P = shape[1]
            cases += [
                _gpt_case("modules", shape, 0, 0, 0, False),
                _gpt_case("tied", shape, 0, 0, 0, False),
                _gpt_case("logits", shape, 3, P, 10 + n, False),
                _gpt_case("logits", shape, 2, 1, 20 + n, False),
                _gpt_case("loss", shape, 3, P - 1, 30 + n, False),
                _gpt_case("ignore", shape, 4, P - 1, 40 + n, False),
            ]
    return cases


def _gpt_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "modules":
        have = got.get("dict", {}) if isinstance(got, dict) else {}
        want = expected["dict"]
        for path in ("transformer.wte", "transformer.wpe", "transformer.ln_f"):
            kind, shape = want[path]["list"][0], want[path]["list"][1]["list"]
            what = f"nn.{kind}({', '.join(map(str, shape))})"
            found = have.get(path)
            layer = found.get("list") if isinstance(found, dict) else None
            if layer is None:
                raise GradingError(f"{case.label} needs {what} at model.{path}; none found")
            found_shape = layer[1].get("list") if isinstance(layer[1], dict) else None
            if [layer[0], found_shape] != [kind, shape]:
                raise GradingError(
                    f"{case.label}: model.{path} should be {what} (weight {tuple(shape)}); got an {layer[0]}"
                    + (f" with weight {tuple(found_shape)}" if found_shape else "")
                )
        blocks, n_layer = have.get("blocks"), want["blocks"]
        if blocks != n_layer:
            raise GradingError(
                f"{case.label} needs n_layer = {n_layer} blocks at model.transformer.h[0] .. h[{n_layer - 1}] "
                f"(an nn.ModuleList); found {blocks}"
            )
        return
    if case.subcheck == "tied":
        items = got.get("list") if isinstance(got, dict) else None
        count, has_wte = items if isinstance(items, list) and len(items) == 2 else (None, False)
        if count != 1 or has_wte is not True:
            raise GradingError(
                f"{case.label}: the model holds {count} parameter(s) of shape (vocab_size, n_embd)"
                + ("" if has_wte is True else ", none of them transformer.wte.weight")
                + "; a tied head has none of its own: it is the token embedding's Parameter "
                "(self.lm_head.weight = self.transformer.wte.weight), not a separate matrix or a copy"
            )
        return
    what = f"model(idx{'' if case.subcheck == 'logits' else ', targets'}) for {case.label}"
    if not is_tuple(expected):  # a catalogued mistake's result: no pair
        if kind_of(got) != kind_of(expected):
            raise GradingError("different kinds of result")
        expect_tensor(got, expected, what="model's result", atol=1e-4, rtol=1e-4)
        return
    out, want = items_of(got, what, 2), items_of(expected, what, 2)
    if case.subcheck == "logits":
        expect_tensor(out[0], want[0], what="logits", context=case.label, atol=1e-4, rtol=1e-4)
        if (out[1] is None) != (want[1] is None):
            raise GradingError(f"{what}: without targets the loss must be None, got {kind_of(out[1])}")
        return
    loss, want_loss, value = out[1], want[1], float_of(want[1])
    if is_scalar_tensor(loss) != is_scalar_tensor(want_loss) or value is None:
        raise GradingError(
            f"{what}: the loss must be a 0-dim tensor (loss.backward() trains on it), got {kind_of(loss)}"
        )
    expect_float(loss, value, what="loss", context=case.label, atol=1e-5, rtol=1e-5)


# The reference answer: the tests' known good GPT (each mistake in mistakes/gpt/ is a variant of it).
SOLUTION = """import torch
import torch.nn.functional as F
from torch import nn


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, idx, targets=None):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T), ignore_index=-100)
        return logits, loss
"""


# The catalogue, in the order a match is named: each id is a file in mistakes/gpt/.
MISTAKES = (
    "no_positions",
    "positions_from_1",
    "positions_from_tokens",
    "untied",
    "tied_by_copy",
    "no_final_norm",
    "blocks_reversed",
    "first_block_only",
    "shifted_again",
    "counts_ignored",
    "summed_loss",
    "last_position_only",
    "softmax",
    "scaled_embeddings",
    "logits_alone",
)

GPT_EXERCISE = Exercise(
    name="GPT",
    cell="gpt",
    test_cell="gpt_tests",
    points=5,
    subchecks=(
        SubCheck(
            "modules",
            0.5,
            "modules transformer.wte (nn.Embedding(V, C)), transformer.wpe (nn.Embedding(block_size, C)), "
            "transformer.h (n_layer Blocks in an nn.ModuleList) and transformer.ln_f (nn.LayerNorm(C))",
        ),
        SubCheck(
            "tied",
            1.0,
            "the head is tied to the token embedding: it uses transformer.wte.weight itself, the model holds no "
            "other (V, C) parameter",
        ),
        SubCheck(
            "logits",
            2.0,
            "model(idx) returns (logits, None), logits (B, T, V) equal to GPT2LMHeadModel's with the same "
            "weights: token + position embeddings (positions 0 .. T-1), the blocks in order, ln_f, the head",
        ),
        SubCheck(
            "loss",
            1.0,
            "model(idx, targets) returns the mean cross-entropy as a 0-dim tensor, targets already shifted "
            "(targets[b, t] is the token after idx[b, t]), equal to GPT2LMHeadModel's loss",
        ),
        SubCheck(
            "ignore",
            0.5,
            "targets equal to -100 (padding) are left out of the mean, as GPT2LMHeadModel's labels -100",
        ),
    ),
    cases=_gpt_cases,
    run=RUNNERS["gpt"],
    compare=_gpt_compare,
    depends={"Block": f"{GPT}:Block"},
    forbidden=Forbidden(
        python=(
            f"{GPT}:GPT",
            f"{GPT}:from_hf",
            f"{GPT}:to_hf",
            f"{HF_GPT2}:GPT2LMHeadModel",
            f"{HF_GPT2}:GPT2Model",
        ),
        names=("GPT2LMHeadModel", "GPT2Model", "from_hf", "to_hf", "AutoModelForCausalLM"),
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_gpt(cls, hidden: bool = False) -> None:
    """Exercise 4, against Hugging Face's GPT2LMHeadModel with the same weights; a correct Block
    stands in for yours while it runs. Hidden: more vocabularies, depths, widths and lengths."""
    check(GPT_EXERCISE, cls, hidden)
