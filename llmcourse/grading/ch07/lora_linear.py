"""Exercise 3, ``LoRALinear(base, r, alpha, dropout=0.0)``, against peft's own LoRA layer
(``get_peft_model`` with a ``LoraConfig`` on a one-layer module), its ``lora_A`` / ``lora_B`` set
to the case's A and B, in float64."""

from __future__ import annotations

from typing import Any, cast

# Imported here, not when a check runs: the grading engine's server imports this module once,
# so the students' processes (whose guards name these classes) start with them loaded.
import peft.tuners.lora.layer  # noqa: F401
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

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
)
from llmcourse.grading.kit import catalogue, seeded
from llmcourse.grading.runners.ch07 import RUNNERS

from .common import numpy_of

LORA = "llmcourse.lora"


def _peft_output(W, b, A, B, r, alpha, x, train_seed: int | None = None, dropout: float = 0.0) -> torch.Tensor:
    """peft's LoRA layer on ``nn.Linear(W, b)`` with ``lora_A = A``, ``lora_B = B``, in the dtype of W
    (float64), in eval mode; with ``train_seed``, in train mode with ``lora_dropout=dropout``, called
    right after ``torch.manual_seed(train_seed)`` (dropout on x draws the mask the student's layer draws)."""
    out_f, in_f = W.shape
    dtype = W.dtype

    class One(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(in_f, out_f, bias=b is not None, dtype=dtype)

        def forward(self, x):
            return self.lin(x)

    module = One()
    with torch.no_grad():
        module.lin.weight.copy_(W)
        if b is not None:
            module.lin.bias.copy_(b)
    model = get_peft_model(
        module,
        LoraConfig(
            r=r, lora_alpha=alpha, lora_dropout=dropout if train_seed is not None else 0.0, target_modules=["lin"]
        ),
    )
    layer: Any = cast(Any, model).base_model.model.lin
    with torch.no_grad():
        layer.lora_A["default"].weight.copy_(A)
        layer.lora_B["default"].weight.copy_(B)
        if train_seed is None:
            model.eval()
            return model(x.to(dtype))
        model.train()
        torch.manual_seed(train_seed)
        return model(x.to(dtype))


def _lora_case(
    sub: str,
    seed: int,
    n_in: int,
    n_out: int,
    r: int,
    alpha: float,
    bias: bool,
    shape: tuple[int, ...],
    visible: bool,
    dropout: float | None = None,
    train_seed: int | None = None,
) -> Case:
    g = seeded(seed)
    W = torch.randn(n_out, n_in, generator=g, dtype=torch.float64) / n_in**0.5
    b = torch.randn(n_out, generator=g, dtype=torch.float64) * 0.5 if bias else None
    A = torch.randn(r, n_in, generator=g, dtype=torch.float64) / n_in**0.5
    B = torch.randn(n_out, r, generator=g, dtype=torch.float64)
    x = torch.randn(*shape, n_in, generator=g, dtype=torch.float64)
    inputs = {
        "kind": sub,
        "r": r,
        "alpha": alpha,
        "dropout": dropout,
        "W": numpy_of(W.float()),
        "b": numpy_of(None if b is None else b.float()),
        "A": numpy_of(A.float()),
        "B": numpy_of(B.float()),
        "x": numpy_of(x.float()),
        "n_in": n_in,
        "n_out": n_out,
        "train_seed": train_seed,
    }
    args = f"LoRALinear(nn.Linear({n_in}, {n_out}{'' if bias else ', bias=False'}), r={r}, alpha={alpha}" + (
        f", dropout={dropout})" if dropout is not None else ")"
    )
    if sub == "params":
        expected = {
            "A": [[r, n_in], True],
            "B": [[n_out, r], True],
            "B_zero": True,
            "base_frozen": True,
            "A_random": True,
            "B_learns": True,
        }
        return Case(sub, inputs, to_plain(expected), args, visible)
    if train_seed is not None:  # float32, as the student's layer: the dropout mask drawn is the same
        W, b, A, B, x = cast(Any, (None if t is None else t.float() for t in (W, b, A, B, x)))
        out = _peft_output(W, b, A, B, r, alpha, x, train_seed, dropout or 0.0).float()
        label = (
            f"{args} with A, B set, x {tuple(shape) + (n_in,)}, in train mode (layer.train()), called right after "
            f"torch.manual_seed({train_seed})"
        )
        return Case(sub, inputs, to_plain(out), label, visible)
    W, b, A, B, x = cast(Any, (None if t is None else t.float().double() for t in (W, b, A, B, x)))
    out = _peft_output(W, b, A, B, r, alpha, x).float()
    label = f"{args} with A, B set, x {tuple(shape) + (n_in,)}" + (" (in eval mode)" if dropout else "")
    if sub == "merge":
        return Case(sub, inputs, to_plain(["Linear", out, out]), label + ", merge()", visible)
    return Case(sub, inputs, to_plain(out), label, visible)


def _lora_cases(hidden: bool) -> list[Case]:
    cases = [
        _lora_case("params", 0, 6, 4, 2, 8, True, (3,), True),
        _lora_case("params", 1, 5, 7, 3, 3, False, (3,), True),
        _lora_case("forward", 2, 6, 4, 2, 8, True, (3,), True),
        _lora_case("forward", 3, 5, 3, 1, 4, False, (2, 3), True),
        _lora_case("merge", 4, 6, 4, 2, 8, True, (3,), True),
        _lora_case("params", 5, 4, 6, 2, 16, True, (2,), True, dropout=0.1),
        _lora_case("forward", 8, 4, 3, 2, 4, False, (3,), True, dropout=1.0),  # eval mode: no dropout, whatever p
        _lora_case("forward", 6, 7, 5, 3, 4, True, (2,), True, dropout=0.1),
        _lora_case("merge", 7, 5, 6, 3, 4, True, (2,), True),
        _lora_case(
            "forward", 9, 6, 5, 2, 8, True, (4,), True, dropout=0.5, train_seed=1234
        ),  # train mode: dropout on x
    ]
    if hidden:
        cases += [
            _lora_case("params", 10, 16, 8, 4, 16, True, (2,), False, dropout=0.1),
            _lora_case("params", 11, 3, 12, 1, 1, True, (2,), False),
            _lora_case("forward", 12, 16, 8, 4, 16, True, (2, 5), False),
            _lora_case("forward", 13, 12, 20, 8, 4, True, (4,), False),
            _lora_case("forward", 14, 10, 6, 2, 8, True, (3,), False, dropout=0.2),
            _lora_case("merge", 15, 16, 8, 4, 16, False, (2, 5), False),
            _lora_case("merge", 16, 12, 20, 8, 4, True, (4,), False),
            _lora_case("forward", 17, 10, 7, 4, 16, False, (2, 3), False, dropout=0.3, train_seed=77),
        ]
    return cases


def _lora_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "params":
        if got == expected:
            return
        have = got.get("dict", {}) if isinstance(got, dict) and isinstance(got.get("dict"), dict) else {}
        want = expected["dict"]
        for name in ("A", "B"):
            w = want[name]["list"]
            shape = w[0]["list"]
            h = have.get(name)
            if not isinstance(h, dict) or "list" not in h:
                raise GradingError(
                    f"{case.label} has no tensor attribute {name}: it needs a trainable nn.Parameter {name} "
                    f"of shape {tuple(shape)}"
                )
            h_shape, h_trainable = h["list"][0]["list"], h["list"][1]
            if h_shape != shape:
                raise GradingError(
                    f"{case.label}: {name} should have shape {tuple(shape)} "
                    f"({'(r, in_features)' if name == 'A' else '(out_features, r)'}), got {tuple(h_shape)}"
                )
            if not h_trainable:
                raise GradingError(f"{case.label}: {name} must be a trainable nn.Parameter (requires_grad=True)")
        if have.get("B_zero") is not True:
            raise GradingError(
                f"{case.label}: B must be zero at the start, so that the layer starts as the pretrained one"
            )
        if have.get("base_frozen") is not True:
            raise GradingError(
                f"{case.label}: the base layer's weight and bias must be frozen (requires_grad=False); "
                "only A and B are trained"
            )
        if have.get("A_random") is not True:
            raise GradingError(
                f"{case.label}: A is all zeros at the start: it must start random (e.g. "
                "torch.randn(r, in_features) / sqrt(in_features), or Kaiming), B zero"
            )
        if have.get("B_learns") is not True:
            raise GradingError(
                f"{case.label}: one backward pass through a fresh layer, layer(x).sum().backward(), "
                "gives B no (or a zero) gradient: with A random and B zero, B's gradient is not zero"
            )
        raise GradingError(f"{case.label}: the parameters differ from what is expected")
    if case.subcheck == "forward":
        expect_tensor(got, expected, what="LoRALinear(x)", context=case.label, atol=1e-4, rtol=1e-4)
        return
    kind, out, after = items_of_list(got, "merge()")
    kind_e, out_e, after_e = expected["list"]
    if kind != kind_e:
        raise GradingError(
            f"merge() must return one nn.Linear, got {kind if isinstance(kind, str) else kind_of(kind)} for "
            f"{case.label}"
        )
    expect_tensor(out, out_e, what="merge()(x)", context=case.label, atol=1e-4, rtol=1e-4)
    expect_tensor(
        after,
        after_e,
        what="the LoRA layer's own output after merge()",
        context=case.label + " (merge() must "
        "leave the LoRA layer as it was: build the merged nn.Linear from a copy of the base's weight)",
        atol=1e-4,
        rtol=1e-4,
    )


def items_of_list(plain: Any, what: str) -> list:
    if isinstance(plain, dict) and "list" in plain and len(plain["list"]) == 3:
        return plain["list"]
    raise GradingError(f"{what}: unexpected result {kind_of(plain)}")


# A correct answer, the one the catalogued mistakes (mistakes/lora_linear/) were written from:
# tests/test_grading_ch07.py varies it into answers that must pass (ch07._LORA_SOLUTION).
_LORA_SOLUTION = """import math
import torch
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.scaling = alpha / r
        self.A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.base(x) + self.dropout(x) @ self.A.T @ self.B.T * self.scaling

    def merge(self):
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * self.B @ self.A)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged
"""


# The catalogue, in the order a match is named: each id is a file in mistakes/lora_linear/.
MISTAKES = (
    "scaling_inverted",
    "merge_no_scaling",
    "no_scaling",
    "B_random",
    "base_not_frozen",
    "shapes_swapped",
    "integer_division",
    "alpha_not_divided",
    "update_only",
    "bias_not_frozen",
    "plain_tensors",
    "no_dropout_argument",
    "dropout_in_eval",
    "merge_returns_self",
    "merge_no_bias",
    "A_zero",
    "init_swapped",
    "dropout_on_output",
    "merge_transposed",
    "merge_in_place",
)

LORA_LINEAR = Exercise(
    name="LoRALinear",
    cell="lora_linear",
    test_cell="lora_linear_tests",
    points=4,
    subchecks=(
        SubCheck(
            "params",
            1.0,
            "the base nn.Linear is frozen (requires_grad=False on its weight and bias); A (r, in_features) "
            "and B (out_features, r) are trainable nn.Parameters, B zero at the start and A random (not zero), so that "
            "a backward pass on a fresh layer gives B a non-zero gradient",
        ),
        SubCheck(
            "forward",
            1.5,
            "layer(x) = base(x) + (alpha / r) * dropout(x) A^T B^T, i.e. W x + b + (alpha / r) B A dropout(x), "
            "equal to peft's LoRA layer with the same A and B: in eval mode (no dropout), and in train mode with "
            "dropout, where the dropout applies to the branch's input x (nn.Dropout or F.dropout(x, p, "
            "self.training)), "
            "the same mask as peft's after the same torch.manual_seed",
        ),
        SubCheck(
            "merge",
            1.5,
            "merge() returns one nn.Linear with the same outputs: weight W + (alpha / r) B A, the base's bias; "
            "the LoRA layer itself is left unchanged (its outputs after merge() are those before)",
        ),
    ),
    cases=_lora_cases,
    run=RUNNERS["lora_linear"],
    compare=_lora_compare,
    forbidden=Forbidden(
        python=(f"{LORA}:LoRALinear", "peft.tuners.lora.layer:Linear", "peft.tuners.lora.layer:LoraLayer"),
        names=("peft", LORA),
    ),
    mistakes=catalogue(__file__, MISTAKES),
)


def check_lora_linear(cls, hidden: bool = False) -> None:
    """Exercise 3, against peft's LoRA layer with the same A and B. Hidden: more sizes, ranks, dropout in eval mode."""
    check(LORA_LINEAR, cls, hidden)
