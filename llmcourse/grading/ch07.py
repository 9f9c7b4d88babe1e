"""Graded checks of chapter 07 (pretraining and fine-tuning), declared for the grading engine.

Test cells call ``check_mask_prompt_tokens(fn)``, ``check_sft_loss(fn)``,
``check_lora_linear(cls)``, ``check_reward_model_loss(fn)`` and ``check_dpo_loss(fn)`` (visible cases); the hidden
part adds ``hidden=True``. Expected
values never come from the course's own code (``llmcourse.finetune``, ``llmcourse.lora``):

- the labels: written out position by position here, in numpy;
- the loss: ``F.cross_entropy`` in float64 on ``logits[:, :-1]`` and ``labels[:, 1:]`` with
  ``ignore_index=-100``, which is what ``GPT2LMHeadModel(input_ids, labels=labels)`` computes
  (``tests/test_grading_ch07.py`` checks the oracle against the model's own loss);
- the LoRA layer: peft's own LoRA layer (``get_peft_model`` with a ``LoraConfig`` on a one-layer
  module), its ``lora_A`` / ``lora_B`` set to the case's A and B, in float64;
- the preference losses: written out in float64 numpy (``-log sigmoid(x) = logaddexp(0, -x)``), DPO's
  as TRL's ``DPOTrainer`` computes it with ``loss_type="sigmoid"`` (see the comment above exercise 4).

Each exercise's ``mistakes`` and ``alternatives`` are complete answers (imports included), as a
student could hand them in; the mutation suite grades every one of them.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

# Imported here, not when a check runs: the grading engine's server imports this module once,
# so the students' processes (whose guards name these functions) start with them loaded.
import peft.tuners.lora.layer  # noqa: F401
import torch
import torch.nn.functional as F
import transformers.loss.loss_utils  # noqa: F401
from peft import LoraConfig, get_peft_model
from torch import nn

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    Mistake,
    SubCheck,
    array_of,
    check,
    expect_float,
    expect_tensor,
    float_of,
    items_of,
    kind_of,
    to_plain,
    values_of,
)
from llmcourse.grading.kit import seeded
from llmcourse.grading.runners.ch07 import RUNNERS

FINETUNE = "llmcourse.finetune"
LORA = "llmcourse.lora"
PREFERENCE = "llmcourse.preference"


# Case inputs hold numpy arrays, not tensors (see ch03: torch pickles each tensor through a file
# descriptor); the runners (llmcourse.grading.runners.ch07) turn them back into tensors.


def _array(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy().copy()


# ---------------------------------------------------------------- exercise 1: masking the prompt


def _batch(seed: int, B: int, T: int, V: int, prompts: list[int], reals: list[int] | None):
    """Right-padded ids (padding id 0, which also occurs inside real text), prompt lengths, mask."""
    g = seeded(seed)
    ids = torch.randint(1, V, (B, T), generator=g)
    for b in range(B):
        n = T if reals is None else reals[b]
        ids[b, min(n - 1, prompts[b] + 1)] = 0  # the padding id inside a response (not its first token)
    mask = None
    if reals is not None:
        mask = torch.zeros(B, T, dtype=torch.long)
        for b, n in enumerate(reals):
            mask[b, :n] = 1
        ids = ids.masked_fill(mask == 0, 0)
    return ids, torch.tensor(prompts), mask


def _labels_expected(ids: np.ndarray, prompts: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    labels = np.array(ids, dtype=np.int64)
    for b in range(labels.shape[0]):
        for t in range(labels.shape[1]):
            if t < prompts[b] or (mask is not None and mask[b, t] == 0):
                labels[b, t] = -100
    return labels


def _mask_case(sub: str, seed: int, B: int, T: int, prompts: list[int], reals: list[int] | None, visible: bool) -> Case:
    ids, lengths, mask = _batch(seed, B, T, 50, prompts, reals)
    expected = torch.from_numpy(
        _labels_expected(cast(np.ndarray, _array(ids)), cast(np.ndarray, _array(lengths)), _array(mask))
    )
    label = f"input_ids {ids.tolist() if B * T <= 24 else (B, T)}, prompt_lengths {lengths.tolist()}"
    label += ", no attention_mask" if mask is None else f", attention_mask {mask.tolist() if B * T <= 24 else (B, T)}"
    expected = to_plain((expected, ids)) if sub == "copy" else to_plain(expected)
    return Case(sub, (_array(ids), _array(lengths), _array(mask), sub), expected, label, visible)


def _mask_cases(hidden: bool) -> list[Case]:
    cases = [
        _mask_case("prompt", 0, 1, 6, [2], None, True),
        _mask_case("prompt", 1, 2, 5, [3, 1], None, True),
        _mask_case("padding", 2, 2, 6, [2, 3], [6, 4], True),
        _mask_case("padding", 3, 3, 5, [1, 2, 2], [3, 5, 4], True),
        _mask_case("copy", 4, 2, 5, [2, 1], [5, 3], True),
    ]
    if hidden:
        cases += [
            _mask_case("prompt", 10, 3, 12, [5, 0, 11], None, False),
            _mask_case("prompt", 11, 4, 9, [1, 2, 3, 4], None, False),
            _mask_case("padding", 12, 4, 16, [3, 5, 2, 7], [16, 9, 4, 12], False),
            _mask_case("padding", 13, 2, 8, [4, 4], [8, 8], False),  # a mask of ones
            _mask_case("copy", 14, 3, 10, [3, 4, 2], [10, 6, 7], False),
            _mask_case("copy", 15, 2, 7, [2, 5], None, False),
        ]
    return cases


def _mask_compare(case: Case, got: Any, expected: Any) -> None:
    labels_e = expected
    if case.subcheck == "copy":
        labels_e, ids_e = expected["tuple"]
        if not (isinstance(got, dict) and "tuple" in got):
            raise GradingError("different kinds of result")
        labels, ids = got["tuple"]
        # an answer's ids that are no tensor (None) are not equal: the same error as before
        if not np.array_equal(cast(np.ndarray, array_of(ids)), values_of(ids_e)):
            raise GradingError(
                f"mask_prompt_tokens changed input_ids in place for {case.label}: the model still needs "
                "the prompt tokens as its input. Work on a copy (input_ids.clone())"
            )
        if not (isinstance(labels, dict) and "tensor" in labels and labels["tensor"]["kind"] == "torch.Tensor"):
            raise GradingError(f"mask_prompt_tokens must return a torch.Tensor, got {kind_of(labels)} for {case.label}")
        want = (
            labels_e["tensor"]["dtype"] if isinstance(labels_e, dict) and "tensor" in labels_e else "int64"
        )  # int64 but for a mistake's
        if labels["tensor"]["dtype"] != want or labels["tensor"]["shape"] != list(values_of(ids_e).shape):
            raise GradingError(
                f"the labels must be a torch.{want} tensor of input_ids' shape {tuple(values_of(ids_e).shape)}, "
                f"got torch.{labels['tensor']['dtype']} of shape {tuple(labels['tensor']['shape'])} for {case.label}"
            )
        return  # the values are the other requirements'
    expect_tensor(got, labels_e, what="labels", context=case.label, atol=0, rtol=0)


def _mask_answer(body: str) -> str:
    return "import torch\ndef mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):\n" + body


_POSITIONS = (
    "    positions = torch.arange(input_ids.shape[1])[None, :]\n"
    "    lengths = torch.as_tensor(prompt_lengths)[:, None]\n"
)

MASK_PROMPT_TOKENS = Exercise(
    name="mask_prompt_tokens",
    cell="mask_prompt_tokens",
    test_cell="mask_prompt_tokens_tests",
    points=3,
    subchecks=(
        SubCheck(
            "prompt",
            1.0,
            "positions 0 .. prompt_lengths[b] - 1 of row b are -100, every other position keeps its token id",
        ),
        SubCheck(
            "padding",
            1.0,
            "positions where attention_mask is 0 (padding on the right) are -100 too; tokens equal to "
            "the padding id inside the response are kept",
        ),
        SubCheck("copy", 1.0, "returns a new torch.int64 tensor: input_ids is left unchanged"),
    ),
    cases=_mask_cases,
    run=RUNNERS["mask_prompt_tokens"],
    compare=_mask_compare,
    forbidden=Forbidden(python=(f"{FINETUNE}:mask_prompt_tokens",), names=(FINETUNE,)),
    mistakes=(
        Mistake(
            "off_by_one",
            "your prompt mask is off by one: the prompt occupies positions 0 .. prompt_lengths[b] - 1, so "
            "the first response token (at prompt_lengths[b]) must keep its label",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids.clone()
    labels[positions <= lengths] = -100
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    return labels
"""
            ),
        ),
        Mistake(
            "short_by_one",
            "your prompt mask stops one token early: the last prompt token (at prompt_lengths[b] - 1) is still a label",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids.clone()
    labels[positions < lengths - 1] = -100
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    return labels
"""
            ),
        ),
        Mistake(
            "padding_not_masked",
            "the padding is not masked: positions where attention_mask is 0 must be -100 as well, "
            "or the model learns to predict padding",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids.clone()
    labels[positions < lengths] = -100
    return labels
"""
            ),
        ),
        Mistake(
            "pad_id",
            "you mask every token equal to the padding id (0) instead of the positions attention_mask marks: "
            "real text can contain that id (GPT-2 pads with its end-of-text token, which ends every response)",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids.clone()
    labels[positions < lengths] = -100
    labels[input_ids == 0] = -100
    return labels
"""
            ),
        ),
        Mistake(
            "in_place",
            "you modify input_ids in place: the labels must be a copy (input_ids.clone()), the model still "
            "needs the prompt as its input",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids
    labels[positions < lengths] = -100
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    return labels
"""
            ),
        ),
        Mistake(
            "response_masked",
            "you masked the response and kept the prompt: the loss must count the response tokens "
            "(what the model should answer), not the prompt",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids.clone()
    labels[positions >= lengths] = -100
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    return labels
"""
            ),
        ),
        Mistake(
            "zero_not_ignore",
            "you set the masked positions to 0; cross-entropy skips only the label -100 (ignore_index), "
            "0 is a real token id",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids.clone()
    labels[positions < lengths] = 0
    if attention_mask is not None:
        labels[attention_mask == 0] = 0
    return labels
"""
            ),
        ),
        Mistake(
            "first_length",
            "you used prompt_lengths[0] for every row: each row has its own prompt length",
            _mask_answer("""    labels = input_ids.clone()
    labels[:, : int(prompt_lengths[0])] = -100
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    return labels
"""),
        ),
        Mistake(
            "float_labels",
            "your labels are a float tensor (torch.where with -100.0, or .float()): labels are token ids, "
            "a torch.int64 tensor as input_ids",
            _mask_answer(
                _POSITIONS
                + """    labels = torch.where(positions < lengths, -100.0, input_ids.float())
    if attention_mask is not None:
        labels = torch.where(attention_mask == 0, -100.0, labels)
    return labels
"""
            ),
        ),
        Mistake(
            "mask_inverted",
            "you mask the positions where attention_mask is 1: 1 marks a real token, 0 the padding",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids.clone()
    labels[positions < lengths] = -100
    if attention_mask is not None:
        labels[attention_mask == 1] = -100
    return labels
"""
            ),
        ),
        Mistake(
            "padding_instead_of_prompt",
            "with an attention_mask you mask the padding instead of the prompt: the prompt "
            "is masked in every case, the padding as well when there is a mask",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids.clone()
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    else:
        labels[positions < lengths] = -100
    return labels
"""
            ),
        ),
        Mistake(
            "minus_one",
            "you mark the masked positions with -1: the label that cross-entropy skips (ignore_index) is -100",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids.clone()
    labels[positions < lengths] = -1
    if attention_mask is not None:
        labels[attention_mask == 0] = -1
    return labels
"""
            ),
        ),
        Mistake(
            "masked_fill_discarded",
            "labels.masked_fill(...) returns a new tensor and leaves labels as it was: assign its "
            "result (labels = labels.masked_fill(...)) or use masked_fill_",
            _mask_answer(
                _POSITIONS
                + """    labels = input_ids.clone()
    labels.masked_fill(positions < lengths, -100)
    if attention_mask is not None:
        labels.masked_fill(attention_mask == 0, -100)
    return labels
"""
            ),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 2: the SFT loss


def _sft_expected(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    wide = logits.detach().double().requires_grad_()
    V = logits.shape[-1]
    loss = F.cross_entropy(wide[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    (grad,) = torch.autograd.grad(loss, wide)
    return loss.detach(), grad


def _sft_case(
    sub: str,
    seed: int,
    B: int,
    T: int,
    V: int,
    prompts: list[int] | None,
    reals: list[int] | None,
    visible: bool,
    dtype: torch.dtype = torch.float32,
) -> Case:
    g = seeded(seed)
    logits = (torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2).to(dtype)
    labels = torch.randint(V, (B, T), generator=g)
    for b in range(B):
        if prompts is not None:
            labels[b, : prompts[b]] = -100
        if reals is not None:
            labels[b, reals[b] :] = -100
    loss, grad = _sft_expected(logits, labels)
    expected = to_plain((loss, grad)) if sub == "scalar" else to_plain(loss)
    label = (
        f"logits ({B}, {T}, {V}) {str(dtype).removeprefix('torch.')}, "
        f"labels {labels.tolist() if B * T <= 24 else (B, T)}"
    )
    return Case(sub, (_array(logits), _array(labels), sub == "scalar"), expected, label, visible)


def _sft_cases(hidden: bool) -> list[Case]:
    cases = [
        _sft_case("shift", 0, 1, 5, 7, None, None, True),
        _sft_case("shift", 1, 2, 4, 9, None, None, True),
        _sft_case("ignore", 2, 2, 6, 7, [2, 3], [6, 4], True),
        _sft_case("ignore", 3, 3, 5, 6, [1, 3, 2], [4, 5, 3], True),
        _sft_case("scalar", 4, 2, 5, 5, [2, 1], [5, 4], True),
    ]
    if hidden:
        cases += [
            _sft_case("shift", 10, 4, 16, 50, None, None, False),
            _sft_case("shift", 11, 2, 7, 11, None, None, False, torch.float64),
            _sft_case("ignore", 12, 4, 12, 30, [3, 5, 2, 7], [12, 9, 6, 10], False),
            _sft_case("ignore", 13, 2, 9, 13, [6, 2], [9, 9], False),
            _sft_case("ignore", 14, 3, 8, 40, [1, 6, 3], [4, 8, 5], False, torch.float64),
            _sft_case("scalar", 15, 3, 6, 9, None, None, False),
            _sft_case("scalar", 16, 2, 8, 12, [3, 2], [8, 6], False),
        ]
    return cases


def _same_loss(got: Any, expected: Any, case: Case) -> None:
    """The loss must be the expected number; a catalogued mistake's result may be no number (a
    tensor of every token's loss): then the same kind of result with the same values."""
    if float_of(expected) is not None or array_of(expected) is None:
        expect_float(got, cast(float, float_of(expected)), what="loss", context=case.label, atol=1e-5, rtol=1e-5)
        return
    if kind_of(got) != kind_of(expected):
        raise GradingError("different kinds of result")
    expect_tensor(got, expected, what="loss", context=case.label, atol=1e-5, rtol=1e-5)


def _sft_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck != "scalar":
        _same_loss(got, expected, case)
        return
    loss, grad = got["tuple"] if isinstance(got, dict) and "tuple" in got else (got, None)
    loss_e, grad_e = expected["tuple"]
    if grad_e is None:  # comparing with a catalogued mistake that returns no usable tensor
        if kind_of(loss) != kind_of(loss_e) or grad is not None:
            raise GradingError("different kinds of result")
        _same_loss(loss, loss_e, case)
        return
    # What the requirement states: a 0-dim float tensor with a gradient that reaches the logits. Its
    # value, and the gradient's, are the "shift" and "ignore" requirements' (judged by their cases).
    if not (isinstance(loss, dict) and "tensor" in loss and loss["tensor"]["shape"] == []):
        raise GradingError(
            f"sft_loss must return a 0-dim torch.Tensor (so that loss.backward() trains the model), "
            f"got {kind_of(loss)} for {case.label}"
        )
    if not loss["tensor"]["dtype"].startswith(("float", "bfloat")):
        raise GradingError(f"sft_loss must return a float tensor, got torch.{loss['tensor']['dtype']} for {case.label}")
    if grad is None:
        raise GradingError(
            f"no gradient reaches the logits through your loss for {case.label} (.item(), .detach(), "
            "torch.tensor(...) or .data cut the graph)"
        )
    g = array_of(grad)
    if g is None or g.shape != values_of(grad_e).shape or not np.isfinite(g).all() or not g.any():
        raise GradingError(
            f"the gradient of your loss with respect to the logits is zero or not finite for {case.label}: "
            "the loss must be computed from the logits"
        )


def _sft_answer(body: str) -> str:
    return "import torch\nimport torch.nn.functional as F\ndef sft_loss(logits, labels):\n" + body


_PER_TOKEN = """    targets = labels[:, 1:]
    counted = targets != -100
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), targets.clamp(min=0), reduction="none")  # (B, T-1)
"""

SFT_LOSS = Exercise(
    name="sft_loss",
    cell="sft_loss",
    test_cell="sft_loss_tests",
    points=3,
    subchecks=(
        SubCheck(
            "shift",
            1.0,
            "the logits at position t are scored against labels[:, t + 1] (logits[:, :-1] against "
            "labels[:, 1:]), as GPT2LMHeadModel's loss with labels",
        ),
        SubCheck(
            "ignore",
            1.0,
            "labels equal to -100 are skipped; the mean is over the counted tokens of the whole batch "
            "(not per sequence, not over every position)",
        ),
        SubCheck("scalar", 1.0, "returns a 0-dim float tensor whose gradient reaches the logits"),
    ),
    cases=_sft_cases,
    run=RUNNERS["sft_loss"],
    compare=_sft_compare,
    forbidden=Forbidden(
        python=(
            f"{FINETUNE}:sft_loss",
            "transformers.loss.loss_utils:ForCausalLMLoss",
            "transformers.loss.loss_utils:fixed_cross_entropy",
        ),
        names=(FINETUNE, "ForCausalLMLoss", "fixed_cross_entropy", "loss_function", "LOSS_MAPPING"),
    ),
    mistakes=(
        Mistake(
            "no_shift",
            "no shift: you score the logits at position t against labels[:, t]; the model would learn to "
            "copy its input. Compare logits[:, :-1] with labels[:, 1:]",
            _sft_answer("""    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
"""),
        ),
        Mistake(
            "shift_wrong_way",
            "you shift the wrong way: logits[:, 1:] against labels[:, :-1] asks each position to "
            "predict the token before it",
            _sft_answer("""    V = logits.shape[-1]
    return F.cross_entropy(logits[:, 1:].reshape(-1, V), labels[:, :-1].reshape(-1), ignore_index=-100)
"""),
        ),
        Mistake(
            "mean_all_positions",
            "you divide by every position (B * (T - 1)) instead of the number of counted tokens (labels != -100)",
            _sft_answer(
                _PER_TOKEN
                + """    return (nll * counted).sum() / nll.numel()
"""
            ),
        ),
        Mistake(
            "mean_per_sequence",
            "you average each sequence first and then the sequences; Hugging Face's loss averages "
            "over all counted tokens of the batch together",
            _sft_answer(
                _PER_TOKEN
                + """    return ((nll * counted).sum(1) / counted.sum(1).clamp(min=1)).mean()
"""
            ),
        ),
        Mistake(
            "sum",
            "you return the sum of the token losses; the loss is their mean",
            _sft_answer(
                _PER_TOKEN
                + """    return (nll * counted).sum()
"""
            ),
        ),
        Mistake(
            "ignore_not_skipped",
            "the -100 labels are not skipped: you replaced them by a real token id and counted them",
            _sft_answer("""    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].clamp(min=0).reshape(-1))
"""),
        ),
        Mistake(
            "item",
            "you return a Python number (.item() / float()): return the tensor, so that loss.backward() can train "
            "the model",
            _sft_answer(
                _PER_TOKEN
                + """    return ((nll * counted).sum() / counted.sum()).item()
"""
            ),
        ),
        Mistake(
            "detached",
            "your loss is computed from logits.detach() (or .data): no gradient reaches the logits, so "
            "loss.backward() trains nothing",
            _sft_answer("""    V = logits.shape[-1]
    return F.cross_entropy(logits.detach()[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
"""),
        ),
        Mistake(
            "nll_on_logits",
            "you pass the raw logits to F.nll_loss, which expects log-probabilities: apply log_softmax "
            "first, or use F.cross_entropy",
            _sft_answer("""    V = logits.shape[-1]
    return F.nll_loss(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
"""),
        ),
        Mistake(
            "softmax_over_time",
            "your log_softmax runs over the positions (dim=1): the distribution of the next token is "
            "over the vocabulary, the last dimension",
            _sft_answer("""    log_probs = F.log_softmax(logits, dim=1)[:, :-1]
    targets = labels[:, 1:]
    counted = targets != -100
    nll = -log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (nll * counted).sum() / counted.sum()
"""),
        ),
        Mistake(
            "per_token",
            "you return the loss of every token (reduction='none'): the loss is one number, the mean over "
            "the counted tokens",
            _sft_answer(
                _PER_TOKEN
                + """    return nll[counted]
"""
            ),
        ),
        Mistake(
            "count_unshifted",
            "you divide by the number of labels that are not -100 before the shift (labels != -100 "
            "on all T positions): count the targets that are scored, labels[:, 1:] != -100",
            _sft_answer(
                _PER_TOKEN
                + """    return (nll * counted).sum() / (labels != -100).sum()
"""
            ),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 3: a LoRA layer


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
        "W": _array(W.float()),
        "b": _array(None if b is None else b.float()),
        "A": _array(A.float()),
        "B": _array(B.float()),
        "x": _array(x.float()),
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


def _lora_variant(*replacements: tuple[str, str]) -> str:
    code = _LORA_SOLUTION
    for old, new in replacements:
        if code.count(old) != 1:
            raise ValueError(f"{old!r} occurs {code.count(old)} times")
        code = code.replace(old, new)
    return code


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
    mistakes=(
        Mistake(
            "scaling_inverted",
            "your scaling is r / alpha; LoRA scales the update by alpha / r",
            _lora_variant(("self.scaling = alpha / r", "self.scaling = r / alpha")),
        ),
        Mistake(
            "merge_no_scaling",
            "merge() forgets the scaling: the merged weight is W + (alpha / r) B A",
            _lora_variant(("self.base.weight + self.scaling * self.B @ self.A", "self.base.weight + self.B @ self.A")),
        ),
        Mistake(
            "no_scaling",
            "your update is not scaled: multiply B A x by alpha / r",
            _lora_variant(("self.scaling = alpha / r", "self.scaling = 1.0")),
        ),
        Mistake(
            "B_random",
            "B is random at the start: it must be zero, so that before training the layer equals the "
            "pretrained one (A is the random one)",
            _lora_variant(
                (
                    "self.B = nn.Parameter(torch.zeros(base.out_features, r))",
                    "self.B = nn.Parameter(torch.randn(base.out_features, r) * 0.01)",
                )
            ),
        ),
        Mistake(
            "base_not_frozen",
            "the base layer is not frozen: set requires_grad=False on its weight and bias, only A and B are trained",
            _lora_variant(("        for p in self.base.parameters():\n            p.requires_grad_(False)\n", "")),
        ),
        Mistake(
            "shapes_swapped",
            "A and B have each other's shapes: A is (r, in_features), B is (out_features, r)",
            _lora_variant(
                (
                    "self.A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))",
                    "self.A = nn.Parameter(torch.randn(base.in_features, r) / math.sqrt(base.in_features))",
                ),
                (
                    "self.B = nn.Parameter(torch.zeros(base.out_features, r))",
                    "self.B = nn.Parameter(torch.zeros(r, base.out_features))",
                ),
                ("self.dropout(x) @ self.A.T @ self.B.T", "self.dropout(x) @ self.A @ self.B"),
                ("self.B @ self.A)", "(self.A @ self.B).T)"),
            ),
        ),
        Mistake(
            "integer_division",
            "your scaling is alpha // r, an integer division: it is alpha / r (4 / 3 is 1.33, not 1)",
            _lora_variant(("self.scaling = alpha / r", "self.scaling = alpha // r")),
        ),
        Mistake(
            "alpha_not_divided",
            "your update is scaled by alpha: the scaling is alpha / r",
            _lora_variant(("self.scaling = alpha / r", "self.scaling = alpha")),
        ),
        Mistake(
            "update_only",
            "your forward returns only the low-rank update (alpha / r) B A x: the frozen layer's output "
            "base(x) is added to it",
            _lora_variant(("return self.base(x) + self.dropout(x)", "return self.dropout(x)")),
        ),
        Mistake(
            "bias_not_frozen",
            "only the base layer's weight is frozen: its bias must not be trained either "
            "(requires_grad=False on every parameter of base)",
            _lora_variant(
                (
                    "        for p in self.base.parameters():\n            p.requires_grad_(False)\n",
                    "        self.base.weight.requires_grad_(False)\n",
                )
            ),
        ),
        Mistake(
            "plain_tensors",
            "A and B are plain tensors with requires_grad=True: make them nn.Parameters, so that "
            "layer.parameters() (and the optimizer) sees them",
            _lora_variant(
                (
                    "self.A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))",
                    "self.A = (torch.randn(r, base.in_features) / math.sqrt(base.in_features)).requires_grad_()",
                ),
                (
                    "self.B = nn.Parameter(torch.zeros(base.out_features, r))",
                    "self.B = torch.zeros(base.out_features, r, requires_grad=True)",
                ),
            ),
        ),
        Mistake(
            "no_dropout_argument",
            "your LoRALinear takes no dropout argument: its signature is LoRALinear(base, r, alpha, dropout=0.0)",
            _lora_variant(
                ("def __init__(self, base, r, alpha, dropout=0.0):", "def __init__(self, base, r, alpha):"),
                ("self.dropout = nn.Dropout(dropout)", "self.dropout = nn.Identity()"),
            ),
        ),
        Mistake(
            "dropout_in_eval",
            "your dropout ignores the layer's mode (F.dropout(x, p) is always in training mode): in eval "
            "mode dropout does nothing; use nn.Dropout, or F.dropout(x, p, training=self.training)",
            _lora_variant(
                ("self.dropout = nn.Dropout(dropout)", "self.p = dropout"),
                ("self.dropout(x) @ self.A.T", "nn.functional.dropout(x, self.p) @ self.A.T"),
            ),
        ),
        Mistake(
            "merge_returns_self",
            "merge() returns the LoRALinear itself: it must return one plain nn.Linear whose weight "
            "holds W + (alpha / r) B A",
            _lora_variant(
                (
                    """        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * self.B @ self.A)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged""",  # noqa: E501 (the solution's text, which the variant replaces verbatim)
                    "        return self",
                )
            ),
        ),
        Mistake(
            "merge_no_bias",
            "merge() drops the base layer's bias: copy it into the merged nn.Linear",
            _lora_variant(
                (
                    "            if self.base.bias is not None:\n                merged.bias.copy_(self.base.bias)\n",
                    "            if self.base.bias is not None:\n                merged.bias.zero_()\n",
                )
            ),
        ),
        Mistake(
            "A_zero",
            "A starts at zero as well as B: then neither gets a gradient (B's is x A^T, A's is B^T ...) and "
            "the update never trains. A starts random (torch.randn(r, in_features) / sqrt(in_features), or Kaiming), "
            "only B at zero",
            _lora_variant(
                (
                    "self.A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))",
                    "self.A = nn.Parameter(torch.zeros(r, base.in_features))",
                )
            ),
        ),
        Mistake(
            "init_swapped",
            "your initialisations are swapped: B must start at zero, so that before training the layer "
            "equals the pretrained one, and A random (with A at zero B gets no gradient)",
            _lora_variant(
                (
                    "self.A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))",
                    "self.A = nn.Parameter(torch.zeros(r, base.in_features))",
                ),
                (
                    "self.B = nn.Parameter(torch.zeros(base.out_features, r))",
                    "self.B = nn.Parameter(torch.randn(base.out_features, r) * 0.01)",
                ),
            ),
        ),
        Mistake(
            "dropout_on_output",
            "your dropout is applied to the low-rank branch's output: LoRA drops its input, "
            "(alpha / r) * dropout(x) A^T B^T, as peft does (in train mode the two differ)",
            _lora_variant(
                (
                    "self.base(x) + self.dropout(x) @ self.A.T @ self.B.T * self.scaling",
                    "self.base(x) + self.dropout(x @ self.A.T @ self.B.T * self.scaling)",
                )
            ),
        ),
        Mistake(
            "merge_transposed",
            "merge() adds (A^T B^T) reshaped to the weight's shape: that is (B A)^T, laid out "
            "wrongly; the update of the weight (out_features, in_features) is (alpha / r) B A",
            _lora_variant(
                (
                    "self.base.weight + self.scaling * self.B @ self.A",
                    "self.base.weight + self.scaling * (self.A.T @ self.B.T).reshape(self.base.weight.shape)",
                )
            ),
        ),
        Mistake(
            "merge_in_place",
            "merge() adds the update into the base layer's weight in place: the LoRA layer, which still "
            "adds (alpha / r) B A x on top of that weight, then applies the update twice. Build the merged nn.Linear "
            "from a "
            "copy (a new nn.Linear, or copy.deepcopy(self.base)) and leave the base as it was",
            _lora_variant(
                (
                    """        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * self.B @ self.A)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged""",  # noqa: E501 (the solution's text, which the variant replaces verbatim)
                    """        with torch.no_grad():
            self.base.weight += self.scaling * self.B @ self.A
        return self.base""",
                )
            ),
        ),
    ),
)

# ---------------------------------------------------------------- exercises 4 and 5: preferences
#
# The oracle of both losses is written out here in float64 numpy, independently of torch and of
# llmcourse.preference: -log sigmoid(x) = log(1 + exp(-x)) = np.logaddexp(0, -x), which stays exact
# for any x, and its derivative -sigmoid(-x). DPO's is TRL's DPOTrainer with loss_type="sigmoid"
# (trl/trainer/dpo_trainer.py, _compute_loss): chosen_logratios = chosen_logps - ref_chosen_logps,
# rejected_logratios likewise, loss = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios)).mean(),
# chosen_rewards = beta * chosen_logratios.detach(); tests/test_grading_ch07.py checks this oracle
# against that formula. TRL itself is not a dependency: its DPO loss is inlined in the trainer's
# forward pass (no function of tensors to call) and it would pull in datasets, pandas and pyarrow.


def _neg_logsigmoid(x: np.ndarray) -> np.ndarray:
    """-log sigmoid(x), exactly, in float64."""
    return np.logaddexp(0.0, -np.asarray(x, dtype=np.float64))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def _reward_expected(chosen: np.ndarray, rejected: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Bradley-Terry loss of a reward model and its gradients with respect to both rewards."""
    margin = chosen.astype(np.float64) - rejected.astype(np.float64)
    B = margin.shape[0]
    grad = -_sigmoid(-margin) / B  # d/dm of mean(-log sigmoid(m))
    return float(_neg_logsigmoid(margin).mean()), grad, -grad


def _dpo_expected(pc: np.ndarray, pr: np.ndarray, rc: np.ndarray, rr: np.ndarray, beta: float):
    """DPO's sigmoid loss, the implicit rewards and the loss's gradients with respect to the policy's log-probs."""
    pc, pr, rc, rr = (a.astype(np.float64) for a in (pc, pr, rc, rr))
    chosen_logratios, rejected_logratios = pc - rc, pr - rr
    logits = beta * (chosen_logratios - rejected_logratios)
    grad = -beta * _sigmoid(-logits) / logits.shape[0]
    return float(_neg_logsigmoid(logits).mean()), beta * chosen_logratios, beta * rejected_logratios, grad, -grad


def _like(got: Any, expected: Any, what: str, label: str) -> None:
    """``got`` equals ``expected`` (plain): a number, a tensor, or (a catalogued mistake's result)
    anything else of the same kind."""
    e = float_of(expected)
    if e is not None:
        value = float_of(got)
        if value is not None and np.isfinite(e) and not np.isfinite(value):
            raise GradingError(
                f"{what} for {label}: expected {e:.6g}, got {value}: not finite. log(sigmoid(x)) underflows "
                "to log(0) when x is very negative; -log sigmoid(x) = softplus(-x) is finite (F.logsigmoid)"
            )
        if not np.isfinite(e) and not (value == e or (value is not None and np.isnan(value) and np.isnan(e))):
            raise GradingError(f"{what} for {label}: expected {e}, got {kind_of(got) if value is None else value}")
        expect_float(got, e, what=what, context=label, atol=1e-5, rtol=1e-5)
    elif array_of(expected) is not None:
        expect_tensor(got, expected, what=what, context=label, atol=1e-5, rtol=1e-5)
    elif kind_of(got) != kind_of(expected):
        raise GradingError(f"{what} for {label}: expected {kind_of(expected)}, got {kind_of(got)}")


def _scalar_with_gradient(name: str, loss: Any, loss_e: Any, grads: list, grads_e: list, of: str, label: str) -> None:
    """The scalar requirement: a 0-dim float tensor whose gradient reaches ``of``. Against a
    catalogued mistake's result (no gradient): the same kind of loss, with no gradient either."""
    if any(g is None for g in grads_e):
        if kind_of(loss) != kind_of(loss_e) or any(g is not None for g in grads):
            raise GradingError("different kinds of result")
        _like(loss, loss_e, "loss", label)
        return
    if not (isinstance(loss, dict) and "tensor" in loss and loss["tensor"]["shape"] == []):
        raise GradingError(
            f"{name} must return a 0-dim torch.Tensor (so that loss.backward() trains the model), "
            f"got {kind_of(loss)} for {label}"
        )
    if not loss["tensor"]["dtype"].startswith(("float", "bfloat")):
        raise GradingError(f"{name} must return a float tensor, got torch.{loss['tensor']['dtype']} for {label}")
    if any(g is None for g in grads):
        raise GradingError(
            f"no gradient reaches {of} through your loss for {label} (.item(), .detach(), "
            "torch.tensor(...) or .data cut the graph)"
        )
    arrays = [array_of(g) for g in grads]
    if any(
        a is None or a.shape != values_of(e).shape or not np.isfinite(a).all() for a, e in zip(arrays, grads_e)
    ) or not all(a.any() for a in cast(list[np.ndarray], arrays)):  # no None: the any() before
        raise GradingError(
            f"the gradient of your loss with respect to {of} is zero or not finite for {label}: "
            "the loss must be computed from them"
        )


# -------------------------------- exercise 4: the reward model's loss


def _rm_case(sub: str, chosen: np.ndarray, rejected: np.ndarray, visible: bool) -> Case:
    loss, grad_c, grad_r = _reward_expected(chosen, rejected)
    expected = to_plain(
        (
            loss,
            torch.from_numpy(grad_c).to(_DTYPES[chosen.dtype.name]),
            torch.from_numpy(grad_r).to(_DTYPES[chosen.dtype.name]),
        )
    )
    small = chosen.size <= 6
    label = (
        f"chosen_rewards {np.round(chosen, 4).tolist() if small else chosen.shape}, rejected_rewards "
        f"{np.round(rejected, 4).tolist() if small else rejected.shape} {chosen.dtype.name}"
    )
    return Case(sub, (chosen, rejected), expected, label, visible)


_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _random_rewards(seed: int, B: int, dtype: type = np.float32, scale: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=B) * scale).astype(dtype), (rng.normal(size=B) * scale).astype(dtype)


def _rm_cases(hidden: bool) -> list[Case]:
    big = (np.array([2.0, -600.0, 900.0, 0.5], np.float32), np.array([1.0, 600.0, -900.0, 3.0], np.float32))
    cases = [
        _rm_case("loss", *_random_rewards(0, 4), True),
        _rm_case("loss", *_random_rewards(1, 6), True),
        _rm_case("stable", *big, True),
        _rm_case("scalar", *_random_rewards(2, 5), True),
    ]
    if hidden:
        huge = (np.array([-1500.0, 3.0, 2000.0, -0.5, 10.0]), np.array([1500.0, 2.5, -2000.0, 0.5, -20.0]))
        cases += [
            _rm_case("loss", *_random_rewards(10, 32, np.float64), False),
            _rm_case("loss", *_random_rewards(11, 1), False),
            _rm_case("loss", *_random_rewards(12, 64, scale=1.0), False),
            _rm_case("stable", *huge, False),
            _rm_case("stable", huge[0].astype(np.float32), huge[1].astype(np.float32), False),
            _rm_case("scalar", *_random_rewards(13, 8, np.float64), False),
        ]
    return cases


def _rm_compare(case: Case, got: Any, expected: Any) -> None:
    loss, *grads = items_of(got, "the runner", 3)
    loss_e, *grads_e = items_of(expected, "the runner", 3)
    if case.subcheck == "scalar":
        _scalar_with_gradient("reward_model_loss", loss, loss_e, grads, grads_e, "the rewards", case.label)
    else:
        _like(loss, loss_e, "loss", case.label)


def _rm_answer(body: str) -> str:
    return (
        "import torch\nimport torch.nn.functional as F\ndef reward_model_loss(chosen_rewards, rejected_rewards):\n"
        + body
    )


_MARGIN = "    margin = chosen_rewards - rejected_rewards  # (B,)\n"

REWARD_MODEL_LOSS = Exercise(
    name="reward_model_loss",
    cell="reward_model_loss",
    test_cell="reward_model_loss_tests",
    points=3,
    subchecks=(
        SubCheck(
            "loss",
            1.0,
            "returns the mean over the batch of -log sigmoid(chosen_rewards - rejected_rewards) "
            "(the Bradley-Terry loss)",
        ),
        SubCheck(
            "stable",
            1.0,
            "stays finite and exact for large margins (|margin| of hundreds): log-sigmoid, not log(sigmoid(...))",
        ),
        SubCheck("scalar", 1.0, "returns a 0-dim float tensor whose gradient reaches both rewards"),
    ),
    cases=_rm_cases,
    run=RUNNERS["reward_model_loss"],
    compare=_rm_compare,
    forbidden=Forbidden(
        python=(f"{PREFERENCE}:reward_model_loss", f"{PREFERENCE}:dpo_loss"),
        names=(PREFERENCE, "RewardTrainer", "trl"),
    ),
    mistakes=(
        Mistake(
            "log_of_sigmoid",
            "you take torch.log(torch.sigmoid(margin)) (or log(1 + exp(-margin))): for a very "
            "negative margin the sigmoid underflows to 0 (the exp overflows) and the loss becomes inf. Use "
            "F.logsigmoid "
            "(or F.softplus(-margin))",
            _rm_answer(_MARGIN + "    return -torch.log(torch.sigmoid(margin)).mean()\n"),
        ),
        Mistake(
            "log_sigmoid_eps",
            "you add a small epsilon inside the log (log(sigmoid(margin) + eps)): the loss no "
            "longer underflows, but it saturates at -log(eps) instead of growing with the margin. Use F.logsigmoid",
            _rm_answer(_MARGIN + "    return -torch.log(torch.sigmoid(margin) + 1e-8).mean()\n"),
        ),
        Mistake(
            "bce_on_probabilities",
            "you apply F.binary_cross_entropy to sigmoid(margin): it clamps the log at -100, "
            "so the loss of a very wrong pair stops at 100. Work with the margin itself: F.logsigmoid, or "
            "F.binary_cross_entropy_with_logits",
            _rm_answer(
                _MARGIN
                + """    probs = torch.sigmoid(margin)
    return F.binary_cross_entropy(probs, torch.ones_like(probs))
"""
            ),
        ),
        Mistake(
            "sign_flipped",
            "the margin has the wrong sign (rejected - chosen): the loss would teach the model to "
            "prefer the rejected responses",
            _rm_answer("    return -F.logsigmoid(rejected_rewards - chosen_rewards).mean()\n"),
        ),
        Mistake(
            "missing_minus",
            "you return log sigmoid(margin), the log-likelihood of the preferences, which is to be "
            "maximised: the loss is its negative",
            _rm_answer(_MARGIN + "    return F.logsigmoid(margin).mean()\n"),
        ),
        Mistake(
            "sum",
            "you sum over the pairs: the loss is the mean over the batch",
            _rm_answer(_MARGIN + "    return -F.logsigmoid(margin).sum()\n"),
        ),
        Mistake(
            "sigmoid_without_log",
            "you return -sigmoid(margin): the Bradley-Terry loss is the negative *log* of that probability",
            _rm_answer(_MARGIN + "    return -torch.sigmoid(margin).mean()\n"),
        ),
        Mistake(
            "mean_before_sigmoid",
            "you average the margins before the log-sigmoid: the loss is the mean of "
            "-log sigmoid(margin) over the pairs, each pair on its own",
            _rm_answer(_MARGIN + "    return -F.logsigmoid(margin.mean())\n"),
        ),
        Mistake(
            "hinge",
            "you use a hinge loss, max(0, 1 - margin): the Bradley-Terry loss is -log sigmoid(margin)",
            _rm_answer(_MARGIN + "    return torch.relu(1 - margin).mean()\n"),
        ),
        Mistake(
            "per_pair",
            "you return the loss of every pair (a tensor of shape (B,)): the loss is one number, their mean",
            _rm_answer(_MARGIN + "    return -F.logsigmoid(margin)\n"),
        ),
        Mistake(
            "item",
            "you return a Python number (.item() / float()): return the tensor, so that loss.backward() can "
            "train the reward model",
            _rm_answer(_MARGIN + "    return -F.logsigmoid(margin).mean().item()\n"),
        ),
        Mistake(
            "detached",
            "your loss is computed from detached rewards (.detach() or .data): no gradient reaches the "
            "reward model, so loss.backward() trains nothing",
            _rm_answer(
                "    margin = chosen_rewards.detach() - rejected_rewards.detach()\n"
                "    return -F.logsigmoid(margin).mean()\n"
            ),
        ),
    ),
)


# -------------------------------- exercise 5: DPO


def _dpo_logps(seed: int, B: int, dtype: type = np.float32) -> tuple[np.ndarray, ...]:
    """Summed log-probabilities as a policy and its reference give them to responses of 5 to 60 tokens."""
    rng = np.random.default_rng(seed)
    rc, rr = -rng.uniform(5, 60, B), -rng.uniform(5, 60, B)
    pc, pr = rc + rng.normal(size=B) * 3, rr + rng.normal(size=B) * 3
    return tuple(a.astype(dtype) for a in (pc, pr, rc, rr))


def _dpo_case(sub: str, logps: tuple[np.ndarray, ...], beta: float, visible: bool) -> Case:
    loss, cr, rr, gc, gr = _dpo_expected(*cast(tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], logps), beta)
    dtype = _DTYPES[logps[0].dtype.name]
    t = lambda a: torch.from_numpy(a).to(dtype)  # noqa: E731
    expected = to_plain(((loss, t(cr), t(rr)), [False, False], t(gc), t(gr)))
    small = logps[0].size <= 4
    names = ("policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps", "ref_rejected_logps")
    label = ", ".join(f"{n} {np.round(a, 3).tolist() if small else a.shape}" for n, a in zip(names, logps))
    label += f" {logps[0].dtype.name}, beta={beta}"
    return Case(sub, (*logps, beta), expected, label, visible)


def _dpo_cases(hidden: bool) -> list[Case]:
    big = tuple(
        np.array(a, np.float32)
        for a in ([-30.0, -2500.0, -40.0], [-50.0, -10.0, -60.0], [-32.0, -20.0, -41.0], [-45.0, -15.0, -58.0])
    )
    cases = [
        _dpo_case("loss", _dpo_logps(0, 4), 0.1, True),
        _dpo_case("loss", _dpo_logps(1, 5), 0.5, True),
        _dpo_case("stable", big, 0.5, True),
        _dpo_case("rewards", _dpo_logps(2, 4), 0.1, True),
        _dpo_case("rewards", _dpo_logps(3, 3), 0.25, True),
        _dpo_case("scalar", _dpo_logps(4, 3), 0.1, True),
    ]
    if hidden:
        huge = tuple(
            np.array(a)
            for a in (
                [-3000.0, -12.0, -25.0, -4000.0],
                [-40.0, -30.0, -3500.0, -8.0],
                [-35.0, -11.0, -24.0, -30.0],
                [-38.0, -33.0, -20.0, -9.0],
            )
        )
        cases += [
            _dpo_case("loss", _dpo_logps(10, 64, np.float64), 0.1, False),
            _dpo_case("loss", _dpo_logps(11, 1), 0.3, False),
            _dpo_case("loss", _dpo_logps(12, 16), 0.05, False),
            _dpo_case("stable", huge, 0.5, False),
            _dpo_case("stable", tuple(a.astype(np.float32) for a in huge), 0.2, False),
            _dpo_case("rewards", _dpo_logps(13, 16, np.float64), 0.5, False),
            _dpo_case("rewards", _dpo_logps(14, 1), 0.1, False),
            _dpo_case("scalar", _dpo_logps(15, 8, np.float64), 0.2, False),
        ]
    return cases


def _dpo_compare(case: Case, got: Any, expected: Any) -> None:
    out, attached, *grads = items_of(got, "the runner", 4)
    out_e, attached_e, *grads_e = items_of(expected, "the runner", 4)
    if attached_e is None:  # comparing with a catalogued mistake that returns no triple
        if kind_of(out) != kind_of(out_e):
            raise GradingError("different kinds of result")
        _like(out, out_e, "result", case.label)
        return
    loss, chosen, rejected = items_of(out, "dpo_loss (loss, chosen_rewards, rejected_rewards)", 3)
    loss_e, chosen_e, rejected_e = items_of(out_e, "the expected result", 3)
    if case.subcheck in ("loss", "stable"):
        _like(loss, loss_e, "loss", case.label)
    elif case.subcheck == "rewards":
        _like(chosen, chosen_e, "chosen_rewards", case.label)
        _like(rejected, rejected_e, "rejected_rewards", case.label)
        if attached != attached_e:
            which = " and ".join(
                n for n, a, e in zip(("chosen_rewards", "rejected_rewards"), attached, attached_e) if a != e
            )
            raise GradingError(
                f"{which} for {case.label}: "
                + (
                    "still attached to the graph (requires_grad is True): "
                    "return them detached (.detach()); they are for reading, not for training"
                    if attached_e == [False, False]
                    else "attached differently"
                )
            )
    else:
        _scalar_with_gradient("dpo_loss", loss, loss_e, grads, grads_e, "the policy's log-probabilities", case.label)


_DPO_SOLUTION = """import torch
import torch.nn.functional as F
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    chosen_logratios = policy_chosen_logps - ref_chosen_logps
    rejected_logratios = policy_rejected_logps - ref_rejected_logps
    logits = beta * (chosen_logratios - rejected_logratios)
    loss = -F.logsigmoid(logits).mean()
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return loss, chosen_rewards, rejected_rewards
"""


def _dpo_variant(*replacements: tuple[str, str]) -> str:
    code = _DPO_SOLUTION
    for old, new in replacements:
        assert old in code, old
        code = code.replace(old, new)
    return code


_LOSS_LINE = "    loss = -F.logsigmoid(logits).mean()"
_LOGITS_LINE = "    logits = beta * (chosen_logratios - rejected_logratios)"

DPO_LOSS = Exercise(
    name="dpo_loss",
    cell="dpo_loss",
    test_cell="dpo_loss_tests",
    points=4,
    subchecks=(
        SubCheck(
            "loss",
            1.0,
            "the loss is the mean over the batch of -log sigmoid(beta * ((policy_chosen_logps - "
            "ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps))), TRL's sigmoid DPO loss",
        ),
        SubCheck(
            "stable",
            1.0,
            "the loss stays finite and exact for large log-ratios (hundreds): log-sigmoid, not log(sigmoid(...))",
        ),
        SubCheck(
            "rewards",
            1.0,
            "chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps) and rejected_rewards "
            "= beta * (policy_rejected_logps - ref_rejected_logps), one per pair, detached",
        ),
        SubCheck(
            "scalar",
            1.0,
            "the loss is a 0-dim float tensor whose gradient reaches the policy's log-probabilities "
            "(the reference's come without gradients)",
        ),
    ),
    cases=_dpo_cases,
    run=RUNNERS["dpo_loss"],
    compare=_dpo_compare,
    forbidden=Forbidden(
        python=(f"{PREFERENCE}:dpo_loss", f"{PREFERENCE}:reward_model_loss"),
        names=(PREFERENCE, "DPOTrainer", "trl"),
    ),
    mistakes=(
        Mistake(
            "log_of_sigmoid",
            "you take torch.log(torch.sigmoid(logits)): for a very negative logit the sigmoid "
            "underflows to 0 and the loss becomes inf. Use F.logsigmoid",
            _dpo_variant((_LOSS_LINE, "    loss = -torch.log(torch.sigmoid(logits)).mean()")),
        ),
        Mistake(
            "bce_on_probabilities",
            "you apply F.binary_cross_entropy to sigmoid(logits): it clamps the log at -100, "
            "so the loss of a very wrong pair stops at 100. Use F.logsigmoid (or binary_cross_entropy_with_logits)",
            _dpo_variant(
                (
                    _LOSS_LINE,
                    "    probs = torch.sigmoid(logits)\n"
                    "    loss = F.binary_cross_entropy(probs, torch.ones_like(probs))",
                )
            ),
        ),
        Mistake(
            "sign_flipped",
            "the logits have the wrong sign (rejected - chosen): the loss would push the policy "
            "towards the rejected responses",
            _dpo_variant((_LOGITS_LINE, "    logits = beta * (rejected_logratios - chosen_logratios)")),
        ),
        Mistake(
            "reference_minus_policy",
            "you subtract the policy from the reference (ref - policy): the log-ratios are "
            "log pi(y|x) - log pi_ref(y|x), the policy first",
            _dpo_variant(
                ("policy_chosen_logps - ref_chosen_logps", "ref_chosen_logps - policy_chosen_logps"),
                ("policy_rejected_logps - ref_rejected_logps", "ref_rejected_logps - policy_rejected_logps"),
            ),
        ),
        Mistake(
            "wrong_pairs",
            "each response's log-probability is compared with the reference's of the other response "
            "(chosen with rejected): subtract ref_chosen_logps from policy_chosen_logps, and ref_rejected_logps from "
            "policy_rejected_logps",
            _dpo_variant(
                ("policy_chosen_logps - ref_chosen_logps", "policy_chosen_logps - ref_rejected_logps"),
                ("policy_rejected_logps - ref_rejected_logps", "policy_rejected_logps - ref_chosen_logps"),
            ),
        ),
        Mistake(
            "no_beta",
            "beta is missing from the logits: the loss is -log sigmoid(beta * (difference of the log-ratios))",
            _dpo_variant((_LOGITS_LINE, "    logits = chosen_logratios - rejected_logratios")),
        ),
        Mistake(
            "beta_on_loss",
            "you multiply the loss by beta instead of the logits: beta goes inside the sigmoid, "
            "-log sigmoid(beta * (...))",
            _dpo_variant(
                (_LOGITS_LINE, "    logits = chosen_logratios - rejected_logratios"),
                (_LOSS_LINE, "    loss = -beta * F.logsigmoid(logits).mean()"),
            ),
        ),
        Mistake(
            "missing_minus",
            "you return log sigmoid(logits), the log-likelihood of the preferences, which is to be "
            "maximised: the loss is its negative",
            _dpo_variant((_LOSS_LINE, "    loss = F.logsigmoid(logits).mean()")),
        ),
        Mistake(
            "sum",
            "you sum over the pairs: the loss is the mean over the batch",
            _dpo_variant((_LOSS_LINE, "    loss = -F.logsigmoid(logits).sum()")),
        ),
        Mistake(
            "mean_before_sigmoid",
            "you average the logits (margins) before the log-sigmoid: the loss is the mean of "
            "-log sigmoid(...) over the pairs, each pair on its own",
            _dpo_variant((_LOSS_LINE, "    loss = -F.logsigmoid(logits.mean())")),
        ),
        Mistake(
            "hinge",
            "you use the hinge variant, max(0, 1 - logits) (SLiC): the exercise asks for the sigmoid loss, "
            "-log sigmoid(logits)",
            _dpo_variant((_LOSS_LINE, "    loss = torch.relu(1 - logits).mean()")),
        ),
        Mistake(
            "ipo",
            "you use IPO's squared loss ((h - 1 / (2 beta))^2): the exercise asks for DPO's sigmoid loss",
            _dpo_variant(
                (_LOSS_LINE, "    loss = ((chosen_logratios - rejected_logratios - 1 / (2 * beta)) ** 2).mean()")
            ),
        ),
        Mistake(
            "rewards_not_detached",
            "the rewards are still attached to the graph: return beta * (...).detach(), they "
            "are for reading (reward margin, accuracy), not for training",
            _dpo_variant(
                ("beta * chosen_logratios.detach()", "beta * chosen_logratios"),
                ("beta * rejected_logratios.detach()", "beta * rejected_logratios"),
            ),
        ),
        Mistake(
            "rewards_without_beta",
            "your rewards lack beta: DPO's implicit reward is beta * (log pi - log pi_ref)",
            _dpo_variant(
                ("beta * chosen_logratios.detach()", "chosen_logratios.detach()"),
                ("beta * rejected_logratios.detach()", "rejected_logratios.detach()"),
            ),
        ),
        Mistake(
            "rewards_policy_only",
            "your rewards are beta times the policy's log-probabilities alone: the implicit "
            "reward is relative to the reference, beta * (policy - reference)",
            _dpo_variant(
                ("beta * chosen_logratios.detach()", "beta * policy_chosen_logps.detach()"),
                ("beta * rejected_logratios.detach()", "beta * policy_rejected_logps.detach()"),
            ),
        ),
        Mistake(
            "rewards_swapped",
            "you return the rewards in the wrong order: (loss, chosen_rewards, rejected_rewards)",
            _dpo_variant(
                ("return loss, chosen_rewards, rejected_rewards", "return loss, rejected_rewards, chosen_rewards")
            ),
        ),
        Mistake(
            "rewards_averaged",
            "you return the batch means of the rewards: return one reward per pair (shape (B,)); "
            "the means are what a trainer logs",
            _dpo_variant(
                (
                    "return loss, chosen_rewards, rejected_rewards",
                    "return loss, chosen_rewards.mean(), rejected_rewards.mean()",
                )
            ),
        ),
        Mistake(
            "item",
            "you return the loss as a Python number (.item()): return the tensor, so that loss.backward() can "
            "train the policy",
            _dpo_variant(("return loss, chosen_rewards", "return loss.item(), chosen_rewards")),
        ),
        Mistake(
            "all_detached",
            "you detach the policy's log-probabilities too: no gradient reaches the policy, so "
            "loss.backward() trains nothing. Only the rewards are detached",
            _dpo_variant(
                ("    chosen_logratios = policy_chosen_logps", "    chosen_logratios = policy_chosen_logps.detach()"),
                (
                    "    rejected_logratios = policy_rejected_logps",
                    "    rejected_logratios = policy_rejected_logps.detach()",
                ),
            ),
        ),
    ),
)


EXERCISES: dict[str, Exercise] = {
    "mask_prompt_tokens": MASK_PROMPT_TOKENS,
    "sft_loss": SFT_LOSS,
    "lora_linear": LORA_LINEAR,
    "reward_model_loss": REWARD_MODEL_LOSS,
    "dpo_loss": DPO_LOSS,
}


def check_mask_prompt_tokens(fn, hidden: bool = False) -> None:
    """Exercise 1, against labels written out position by position. Hidden: more shapes and paddings."""
    check(MASK_PROMPT_TOKENS, fn, hidden)


def check_sft_loss(fn, hidden: bool = False) -> None:
    """Exercise 2, against the loss GPT2LMHeadModel returns with these labels. Hidden: more shapes and float64."""
    check(SFT_LOSS, fn, hidden)


def check_lora_linear(cls, hidden: bool = False) -> None:
    """Exercise 3, against peft's LoRA layer with the same A and B. Hidden: more sizes, ranks, dropout in eval mode."""
    check(LORA_LINEAR, cls, hidden)


def check_reward_model_loss(fn, hidden: bool = False) -> None:
    """Exercise 4, against the Bradley-Terry loss in float64. Hidden: more sizes, float64, larger margins."""
    check(REWARD_MODEL_LOSS, fn, hidden)


def check_dpo_loss(fn, hidden: bool = False) -> None:
    """Exercise 5, against TRL's sigmoid DPO loss in float64. Hidden: more sizes and betas, float64, larger
    log-ratios."""
    check(DPO_LOSS, fn, hidden)
