"""Graded checks of chapter 03 (GPT deep dive), declared for the grading engine.

Test cells call ``check_causal_mask(fn)``, ``check_causal_lm_loss(fn)`` and ``check_block(cls)``
(visible cases); the hidden part adds ``hidden=True``. Expected values never come from the
course's own code (``llmcourse.attention``, ``llmcourse.losses``, ``llmcourse.gpt``):

- the causal mask: read off ``F.scaled_dot_product_attention(..., is_causal=True)`` (which keys
  get a non-zero weight);
- the loss: ``F.cross_entropy`` in float64 on the shifted labels with the padding labelled
  -100, which is what ``GPT2LMHeadModel(input_ids, labels=...)`` computes
  (``tests/test_grading_ch03.py`` checks the oracle against the model's own loss);
- the block: Hugging Face's ``GPT2Block`` (eager attention, float64) with the same weights (its
  Conv1D weights are the transposes of ``nn.Linear``'s) and the 4-d additive mask Hugging Face's
  ``GPT2Model`` builds from a padding mask (the test file checks that too).

Each exercise's ``mistakes`` and ``alternatives`` are complete answers (imports included), as a
student could hand them in; the mutation suite grades every one of them.
"""

from __future__ import annotations

import functools
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

# Imported here, not when a check runs: the grading engine's server imports this module once,
# so the students' processes (whose guards name these functions) start with them loaded.
import transformers.integrations.sdpa_attention  # noqa: F401
import transformers.loss.loss_utils  # noqa: F401
from transformers import GPT2Config
from transformers.models.gpt2.modeling_gpt2 import GPT2Block, GPT2LMHeadModel

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
from llmcourse.grading.kit import seeded, variant
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch03 import (
    LINEARS,
    NORMS,
    RUNNERS,
    _module_at,  # noqa: F401 - tests/test_grading_ch03.py loads weights with ch03._module_at
)

ATTENTION = "llmcourse.attention"
LOSSES = "llmcourse.losses"
GPT = "llmcourse.gpt"
HF_GPT2 = "transformers.models.gpt2.modeling_gpt2"
FUSED_TORCH = ("torch.nn.functional.scaled_dot_product_attention", "torch.nn.functional.multi_head_attention_forward")
FUSED_ATEN = ("scaled_dot_product", "multi_head_attention")


# Case inputs hold numpy arrays, not tensors: the engine pickles a job's inputs into the student's
# process, and torch's pickling sends every tensor through a file descriptor of its own (a few
# hundred per job stop the whole grading run). The runners (llmcourse.grading.runners.ch03) turn them
# back into tensors.


def _array(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy().copy()


def _computed_once(cases):
    """Cases are built once per process (the block's oracles take a second or two): the run
    functions only ever hand the student copies of the inputs, so sharing them is safe."""
    cached = functools.lru_cache(maxsize=None)(cases)
    return functools.wraps(cases)(lambda hidden: list(cached(bool(hidden))))


# ---------------------------------------------------------------- exercise 1: the causal mask


def _mask_expected(T: int) -> torch.Tensor:
    """Which keys PyTorch's fused attention lets each query see with ``is_causal=True``: with
    equal scores, the weights are uniform over the allowed keys and 0 elsewhere."""
    zeros = torch.zeros(1, T, 1, dtype=torch.float64)
    weights = F.scaled_dot_product_attention(zeros, zeros, torch.eye(T, dtype=torch.float64)[None], is_causal=True)[0]
    return weights > 0


@_computed_once
def _mask_cases(hidden: bool) -> list[Case]:
    sizes = {
        "shape": [(3, True), (5, True), (1, False), (17, False), (64, False)],
        # 160 is visible: above a buffer of a fixed size (128) that a mask may be sliced from
        "values": [(4, True), (6, True), (160, True), (1, False), (2, False), (33, False), (128, False), (512, False)],
    }
    return [
        Case(sub, T, to_plain(_mask_expected(T)), f"T={T}", visible)
        for sub, all_sizes in sizes.items()
        for T, visible in all_sizes
        if visible or hidden
    ]


def _mask_compare(case: Case, got: Any, expected: Any) -> None:
    if not (isinstance(got, dict) and "tensor" in got):
        raise GradingError(f"causal_mask({case.inputs}): expected a torch.Tensor, got {kind_of(got)}")
    if case.subcheck == "shape":
        want_shape, want_dtype = tuple(expected["tensor"]["shape"]), expected["tensor"]["dtype"]
        shape, dtype = tuple(got["tensor"]["shape"]), got["tensor"]["dtype"]
        if got["tensor"]["kind"] != expected["tensor"]["kind"]:
            raise GradingError(f"causal_mask({case.inputs}): expected a torch.Tensor, got a {got['tensor']['kind']}")
        if shape != want_shape or dtype != want_dtype:
            raise GradingError(
                f"causal_mask({case.inputs}): expected a torch.{want_dtype} tensor of shape {want_shape}, "
                f"got torch.{dtype} of shape {shape}"
            )
        return
    # the values alone (what kind of tensor it is, its dtype, is the shape requirement's)
    values = to_plain(torch.from_numpy(np.array(array_of(got))))
    expect_tensor(
        values, expected, what="causal mask (compared as numbers, True = 1)", context=case.label, atol=0, rtol=0
    )


def _mask_mistake(body: str) -> str:
    return "import torch\ndef causal_mask(T):\n" + body


CAUSAL_MASK = Exercise(
    name="causal_mask",
    cell="causal_mask",
    test_cell="causal_mask_tests",
    points=2,
    subchecks=(
        SubCheck("shape", 0.5, "returns a torch.bool tensor of shape (T, T)"),
        SubCheck(
            "values", 1.5, "entry [i, j] is True exactly when j <= i: each token sees itself and the tokens before it"
        ),
    ),
    cases=_mask_cases,
    run=RUNNERS["causal_mask"],
    compare=_mask_compare,
    forbidden=Forbidden(python=(f"{ATTENTION}:causal_mask",), names=(ATTENTION,)),
    mistakes=(
        Mistake(
            "future",
            "your mask is True above the diagonal: each token would see the tokens after it (the future) "
            "and not those before it. Use the lower triangle (torch.tril)",
            _mask_mistake("    return torch.ones(T, T, dtype=torch.bool).triu()\n"),
        ),
        Mistake(
            "no_self",
            "your diagonal is False: a token must be allowed to attend to itself (otherwise the first token "
            "has nothing to attend to)",
            _mask_mistake("    return torch.ones(T, T, dtype=torch.bool).tril(diagonal=-1)\n"),
        ),
        Mistake(
            "blocked_convention",
            "your mask is True where attention is *blocked* (the convention of nn.MultiheadAttention's "
            "attn_mask); in this course True means 'may attend'",
            _mask_mistake("    return torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)\n"),
        ),
        Mistake(
            "float",
            "your mask is a float tensor: return booleans (dtype=torch.bool, or .bool()), True = may attend",
            _mask_mistake("    return torch.tril(torch.ones(T, T))\n"),
        ),
        Mistake(
            "uint8",
            "your mask has dtype uint8 (the masks of old PyTorch versions): return dtype=torch.bool",
            _mask_mistake("    return torch.tril(torch.ones(T, T, dtype=torch.uint8))\n"),
        ),
        Mistake(
            "additive",
            "you return an additive mask (0 where allowed, -inf where blocked), the form that is added to the "
            "scores; here the mask is boolean, True = may attend",
            _mask_mistake(
                "    return torch.zeros(T, T).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float('-inf'))\n"
            ),
        ),
        Mistake(
            "buffer_shape",
            "your mask has shape (1, 1, T, T), as nanoGPT stores its mask buffer for (B, H, T, T) scores: "
            "return (T, T)",
            _mask_mistake("    return torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)\n"),
        ),
        Mistake(
            "int64",
            "your mask has an integer dtype (int64, from torch.ones(..., dtype=torch.long)): return dtype=torch.bool",
            _mask_mistake("    return torch.ones(T, T, dtype=torch.long).tril()\n"),
        ),
        Mistake(
            "sees_next",
            "your mask lets each token see the token after it too (tril(diagonal=1)): entry [i, j] is True "
            "exactly when j <= i",
            _mask_mistake("    return torch.ones(T, T, dtype=torch.bool).tril(diagonal=1)\n"),
        ),
        Mistake(
            "fixed_buffer",
            "you slice the mask from a buffer of a fixed size (128 x 128), too small for a longer sequence: "
            "build it for the T you are given",
            "import torch\n_MASK = torch.ones(128, 128, dtype=torch.bool).tril()\n\n"
            "def causal_mask(T):\n    return _MASK[:T, :T]\n",
        ),
        Mistake(
            "numpy",
            "you return a NumPy array (np.tril): return a torch.Tensor (torch.tril, torch.ones)",
            "import numpy as np\ndef causal_mask(T):\n    return np.tril(np.ones((T, T), dtype=bool))\n",
        ),
        Mistake(
            "all_true",
            "your mask is True everywhere: nothing is masked, so a token sees the tokens after it; keep the lower "
            "triangle (torch.tril)",
            _mask_mistake("    return torch.ones(T, T, dtype=torch.bool)\n"),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 2: the causal LM loss


def _loss_expected(
    logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hugging Face's recipe in float64: labels = input_ids with padding -100, shifted inside."""
    labels = ids if mask is None else ids.masked_fill(mask == 0, -100)
    wide = logits.detach().double().requires_grad_()
    V = logits.shape[-1]
    loss = F.cross_entropy(wide[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    (grad,) = torch.autograd.grad(loss, wide)
    return loss.detach(), grad


def _pad(kind: str, B: int, T: int, real: list[int] | None, g: torch.Generator) -> torch.Tensor | None:
    """A (B, T) long mask: ``real[b]`` tokens in row b, right- or left-padded ("both": even rows
    right, odd rows left). A right-padded row of n tokens has n - 1 predictions that count, a
    left-padded one n (its first token is predicted from padding, and counts, as in Hugging Face)."""
    if kind == "none":
        return None
    assert real is not None, "a padded case lists its rows' real lengths"
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(real):
        side = kind if kind in ("right", "left") else ("right" if b % 2 == 0 else "left")
        if side == "right":
            mask[b, :n] = 1
        else:
            mask[b, T - n :] = 1
    return mask


def _loss_case(
    sub: str,
    seed: int,
    B: int,
    T: int,
    V: int,
    pad: str,
    real: list[int] | None,
    visible: bool,
    dtype: torch.dtype = torch.float32,
) -> Case:
    g = seeded(seed)
    logits = (torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2).to(dtype)
    ids = torch.randint(V, (B, T), generator=g)
    mask = _pad(pad, B, T, real, g)
    # Token 0 is also the padding id here (as with GPT-2's end-of-text token): make sure real text
    # contains it as a target, so that skipping every 0 is not the same as skipping the padding.
    for b in range(B):
        positions = [t for t in range(1, T) if mask is None or (mask[b, t] == 1)]
        if positions:
            ids[b, positions[len(positions) // 2]] = 0
    if mask is not None:
        ids = ids.masked_fill(mask == 0, 0)
    loss, grad = _loss_expected(logits, ids, mask)
    expected = to_plain((loss, grad)) if sub == "scalar" else to_plain(loss)
    label = f"logits ({B}, {T}, {V}) {str(dtype).removeprefix('torch.')}, input_ids ({B}, {T})"
    if mask is None:
        label += ", no attention_mask"
    else:
        label += f", attention_mask {mask.tolist() if B * T <= 24 else '(' + str(B) + ', ' + str(T) + ')'}"
    return Case(sub, (_array(logits), _array(ids), _array(mask), sub == "scalar"), expected, label, visible)


@_computed_once
def _loss_cases(hidden: bool) -> list[Case]:
    cases = [
        _loss_case("shift", 0, 1, 5, 7, "none", None, True),
        _loss_case("shift", 1, 2, 4, 9, "none", None, True),
        _loss_case("padding", 2, 2, 5, 7, "both", [4, 3], True),
        _loss_case("padding", 3, 3, 4, 6, "right", [2, 2, 2], True),
        _loss_case("mean", 4, 2, 6, 7, "both", [6, 2], True),
        _loss_case("mean", 5, 3, 5, 8, "right", [5, 3, 2], True),
        _loss_case("scalar", 6, 2, 5, 5, "both", [4, 3], True),
    ]
    if hidden:
        cases += [
            _loss_case("shift", 10, 1, 2, 3, "none", None, False),
            _loss_case("shift", 11, 4, 16, 50, "none", None, False),
            _loss_case("shift", 12, 3, 9, 1000, "none", None, False),
            _loss_case("shift", 13, 2, 7, 11, "none", None, False, torch.float64),
            _loss_case("padding", 14, 4, 12, 30, "both", [8, 7, 8, 7], False),
            _loss_case("padding", 15, 2, 9, 13, "left", [4, 4], False),
            _loss_case("padding", 16, 3, 6, 10, "right", [6, 6, 6], False),  # a mask of ones
            _loss_case("mean", 17, 4, 10, 21, "both", [10, 3, 7, 2], False),
            _loss_case("mean", 18, 3, 8, 40, "left", [8, 2, 5], False),
            _loss_case("mean", 19, 2, 11, 17, "right", [11, 4], False, torch.float64),
            _loss_case("scalar", 20, 3, 6, 9, "none", None, False),
            _loss_case("scalar", 21, 2, 8, 12, "both", [8, 7], False),
        ]
    return cases


def _loss_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck != "scalar":
        value = cast(float, float_of(expected))  # None only for a catalogued mistake's result: no match
        expect_float(got, value, what="loss", context=case.label, atol=1e-5, rtol=1e-5)
        return
    loss, grad = got["tuple"] if isinstance(got, dict) and "tuple" in got else (got, None)
    loss_e, grad_e = expected["tuple"]
    if grad_e is None:  # comparing with a catalogued mistake that returns no usable tensor
        if kind_of(loss) != kind_of(loss_e) or grad is not None:
            raise GradingError("different kinds of result")
        expect_float(loss, cast(float, float_of(loss_e)), what="loss", context=case.label, atol=1e-5, rtol=1e-5)
        return
    if not (isinstance(loss, dict) and "tensor" in loss and loss["tensor"]["shape"] == []):
        raise GradingError(
            f"causal_lm_loss must return a 0-dim torch.Tensor (so that loss.backward() trains the model), "
            f"got {kind_of(loss)} for {case.label}"
        )
    if not loss["tensor"]["dtype"].startswith(("float", "bfloat")):
        raise GradingError(
            f"the loss must be a floating-point tensor, got dtype {loss['tensor']['dtype']} for {case.label}"
        )
    # This requirement is the kind of result and the graph, not the value: a wrong value is the
    # shift's, the padding's or the mean's to charge.
    gradient = array_of(grad) if grad is not None else None
    if (
        gradient is None
        or gradient.shape != values_of(grad_e).shape
        or not np.isfinite(gradient).all()
        or not gradient.any()
    ):
        raise GradingError(
            f"no gradient reaches the logits through your loss for {case.label} (.item(), .detach(), "
            "torch.tensor(...) or .data cut the graph)"
        )


def _loss_answer(body: str) -> str:
    return (
        "import torch\nimport torch.nn.functional as F\ndef causal_lm_loss(logits, input_ids, attention_mask=None):\n"
        + body
    )


_LABELS = """    labels = input_ids[:, 1:]
    counted = torch.ones_like(labels, dtype=torch.bool) if attention_mask is None else attention_mask[:, 1:] == 1
"""
_PER_TOKEN = (
    _LABELS
    + """    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, reduction="none")  # (B, T-1)
"""
)

CAUSAL_LM_LOSS = Exercise(
    name="causal_lm_loss",
    cell="causal_lm_loss",
    test_cell="causal_lm_loss_tests",
    points=4,
    subchecks=(
        SubCheck(
            "shift",
            1.5,
            "the logits at position t are scored against the token at t + 1 (the mean cross-entropy of "
            "logits[:, :-1] and input_ids[:, 1:]), as GPT2LMHeadModel's loss",
        ),
        SubCheck(
            "padding",
            1.0,
            "predictions of padding (attention_mask 0 at the predicted token) are not counted, left and right padding",
        ),
        SubCheck(
            "mean",
            1.0,
            "the mean is over all counted tokens of the batch together (not per sequence, not over every position)",
        ),
        SubCheck("scalar", 0.5, "returns a 0-dim float tensor whose gradient reaches the logits"),
    ),
    cases=_loss_cases,
    run=RUNNERS["causal_lm_loss"],
    compare=_loss_compare,
    forbidden=Forbidden(
        python=(
            f"{LOSSES}:causal_lm_loss",
            f"{LOSSES}:token_losses",
            f"{LOSSES}:causal_lm_labels",
            "transformers.loss.loss_utils:ForCausalLMLoss",
            "transformers.loss.loss_utils:fixed_cross_entropy",
        ),
        names=(LOSSES, "ForCausalLMLoss", "fixed_cross_entropy", "loss_function", "LOSS_MAPPING"),
    ),
    mistakes=(
        Mistake(
            "no_shift",
            "you score the logits at position t against the token at t itself: the model would learn to copy "
            "its input. Compare logits[:, :-1] with input_ids[:, 1:]",
            _loss_answer("""
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), input_ids.reshape(-1))
"""),
        ),
        Mistake(
            "shift_wrong_way",
            "you shift the wrong way: logits[:, 1:] against input_ids[:, :-1] asks each position to "
            "predict the token *before* it",
            _loss_answer("""
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, 1:].reshape(-1, V), input_ids[:, :-1].reshape(-1))
"""),
        ),
        Mistake(
            "padding_counted",
            "you count the padding: tokens whose attention_mask is 0 are not text; leave them out of "
            "the loss (label them -100, or mask them)",
            _loss_answer("""
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), input_ids[:, 1:].reshape(-1))
"""),
        ),
        Mistake(
            "inputs_mask",
            "you mask with attention_mask[:, :-1] (the inputs'), but what is skipped is a prediction whose "
            "*target* is padding: use attention_mask[:, 1:]",
            _loss_answer("""
    labels = input_ids[:, 1:]
    if attention_mask is not None:
        labels = labels.masked_fill(attention_mask[:, :-1] == 0, -100)
    return F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, ignore_index=-100)
"""),
        ),
        Mistake(
            "sum",
            "you return the sum of the token losses; the loss is their mean (a sum grows with the batch and "
            "the length, and so would the gradients)",
            _loss_answer(
                _PER_TOKEN
                + """    return (nll * counted).sum()
"""
            ),
        ),
        Mistake(
            "mean_per_sequence",
            "you average each sequence first and then the sequences; Hugging Face (and this exercise) "
            "averages over all counted tokens together, so longer sequences weigh more",
            _loss_answer(
                _PER_TOKEN
                + """    return ((nll * counted).sum(1) / counted.sum(1)).mean()
"""
            ),
        ),
        Mistake(
            "divide_by_positions",
            "you zero the padding but divide by every position (B * (T - 1)); divide by the number of counted tokens",
            _loss_answer(
                _PER_TOKEN
                + """    return (nll * counted).sum() / nll.numel()
"""
            ),
        ),
        Mistake(
            "pad_id",
            "you skip every token with id 0 instead of the padding the attention_mask marks; real text can "
            "contain the pad id (GPT-2 pads with its end-of-text token, which also separates documents)",
            _loss_answer("""
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), input_ids[:, 1:].reshape(-1), ignore_index=0)
"""),
        ),
        Mistake(
            "softmax_first",
            "you apply softmax before F.cross_entropy, which expects raw logits (it applies log-softmax itself)",
            _loss_answer(
                _LABELS
                + """    nll = F.cross_entropy(logits[:, :-1].softmax(-1).transpose(1, 2), labels, reduction="none")
    return (nll * counted).sum() / counted.sum()
"""
            ),
        ),
        Mistake(
            "nll_on_logits",
            "F.nll_loss expects log-probabilities: apply log_softmax to the logits first",
            _loss_answer(
                _LABELS
                + """    nll = F.nll_loss(logits[:, :-1].transpose(1, 2), labels, reduction="none")
    return (nll * counted).sum() / counted.sum()
"""
            ),
        ),
        Mistake(
            "item",
            "you return a Python number (.item() / float()): return the tensor, so that loss.backward() can train "
            "the model",
            _loss_answer(
                _PER_TOKEN
                + """    return ((nll * counted).sum() / counted.sum()).item()
"""
            ),
        ),
        Mistake(
            "skips_predictions_from_padding",
            "you also skip the predictions made *from* padding (attention_mask[:, :-1] and "
            "[:, 1:] both 1): with left padding the first real token is predicted from a padding position, and it "
            "counts, since its label is real",
            _loss_answer(
                _PER_TOKEN
                + """    if attention_mask is not None:
        counted = counted & (attention_mask[:, :-1] == 1)
    return (nll * counted).sum() / counted.sum()
"""
            ),
        ),
        Mistake(
            "divide_by_tokens",
            "you divide by the number of tokens (attention_mask.sum(), or B * T), but there is one "
            "prediction fewer per sequence: divide by the number of counted predictions (the mask of the targets, "
            "attention_mask[:, 1:])",
            _loss_answer(
                _PER_TOKEN
                + """    tokens = input_ids.numel() if attention_mask is None else attention_mask.sum()
    return (nll * counted).sum() / tokens
"""
            ),
        ),
        Mistake(
            "log_softmax_wrong_dim",
            "your log_softmax runs over the positions (dim=1); it runs over the vocabulary (dim=-1)",
            _loss_answer(
                _LABELS
                + """    logp = F.log_softmax(logits, dim=1)[:, :-1]
    nll = -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return (nll * counted).sum() / counted.sum()
"""
            ),
        ),
        Mistake(
            "classes_last",
            "F.cross_entropy wants the classes in dimension 1: pass (B, V, T - 1) (logits[:, :-1].transpose(1, 2)) "
            "or flatten to (B * (T - 1), V)",
            _loss_answer("""    return F.cross_entropy(logits[:, :-1], input_ids[:, 1:])
"""),
        ),
        Mistake(
            "mean_of_sequence_sums",
            "you sum each sequence's token losses and average the sums over the batch: the loss is "
            "the mean over all counted tokens",
            _loss_answer(
                _PER_TOKEN
                + """    return (nll * counted).sum(1).mean()
"""
            ),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 3: a GPT-2 block


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
        "weights": {k: _array(w) for k, w in weights.items()},
        "x": _array(x),
        "mask": _array(mask),
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


@_computed_once
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
    if not (isinstance(got, dict) and "tensor" in got):
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


_BLOCK_HEAD = """import math
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
"""

_BLOCK_TAIL = """

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
_BLOCK_SOLUTION = _BLOCK_HEAD + _BLOCK_TAIL


def _block_variant(*replacements: tuple[str, str]) -> str:
    """The solution above with each ``old`` (which must occur exactly once) replaced by ``new``."""
    code = _BLOCK_SOLUTION
    for old, new in replacements:
        if code.count(old) != 1:
            raise ValueError(f"{old!r} occurs {code.count(old)} times")
        code = code.replace(old, new)
    return code


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
    mistakes=(
        Mistake(
            "exact_gelu",
            "your MLP uses the exact GELU (nn.GELU() / F.gelu(x) by default); GPT-2 uses its tanh "
            'approximation, F.gelu(x, approximate="tanh") (they differ by up to about 5e-4)',
            _block_variant(('F.gelu(self.c_fc(x), approximate="tanh")', "F.gelu(self.c_fc(x))")),
        ),
        Mistake(
            "relu",
            "your MLP uses ReLU; GPT-2 uses GELU with the tanh approximation",
            _block_variant(('F.gelu(self.c_fc(x), approximate="tanh")', "F.relu(self.c_fc(x))")),
        ),
        Mistake(
            "post_ln",
            "you normalise after each residual addition (Post-LN, x = LN(x + f(x)), as the 2017 figure draws "
            "it); GPT-2 is Pre-LN: x = x + f(LN(x))",
            _block_variant(
                ("x = x + self.attn(self.ln_1(x), attention_mask)", "x = self.ln_1(x + self.attn(x, attention_mask))"),
                ("x = x + self.mlp(self.ln_2(x))", "x = self.ln_2(x + self.mlp(x))"),
            ),
        ),
        Mistake(
            "no_residual",
            "your block has no residual connections: add each sublayer's output to its input, "
            "x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x))",
            _block_variant(
                ("x = x + self.attn(self.ln_1(x), attention_mask)", "x = self.attn(self.ln_1(x), attention_mask)"),
                ("x = x + self.mlp(self.ln_2(x))", "x = self.mlp(self.ln_2(x))"),
            ),
        ),
        Mistake(
            "residual_from_normed",
            "your residual adds the normalised x (h = ln_1(x); x = h + attn(h)); the residual "
            "stream carries x itself: x = x + attn(ln_1(x))",
            _block_variant(
                (
                    "x = x + self.attn(self.ln_1(x), attention_mask)",
                    "h = self.ln_1(x)\n        x = h + self.attn(h, attention_mask)",
                ),
                ("x = x + self.mlp(self.ln_2(x))", "h = self.ln_2(x)\n        x = h + self.mlp(h)"),
            ),
        ),
        Mistake(
            "not_causal",
            "your attention is not causal: every position sees the whole sequence, future included; "
            "combine the causal mask with the padding mask",
            _block_variant(
                ("allowed = torch.ones(T, T, dtype=torch.bool).tril()", "allowed = torch.ones(T, T, dtype=torch.bool)")
            ),
        ),
        Mistake(
            "qkv_split",
            "you split c_attn's output per head first; it is [q | k | v], each C wide: split it into three "
            "C-wide pieces, then each into heads",
            _block_variant(
                (
                    "q, k, v = self.c_attn(x).split(C, dim=-1)\n"
                    "        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))",
                    "q, k, v = self.c_attn(x).view(B, T, H, 3 * (C // H)).transpose(1, 2).split(C // H, dim=-1)",
                )
            ),
        ),
        Mistake(
            "head_split",
            "your heads are split with view(B, H, T, d), which mixes positions and heads: use "
            "view(B, T, H, d).transpose(1, 2)",
            _block_variant(("t.view(B, T, H, C // H).transpose(1, 2) for t", "t.reshape(B, H, T, C // H) for t")),
        ),
        Mistake(
            "scale_by_C",
            "your scores are divided by sqrt(C); each head's are divided by sqrt(C // n_head)",
            _block_variant(("/ math.sqrt(C // H)", "/ math.sqrt(C)")),
        ),
        Mistake(
            "ignores_padding",
            "your tokens attend to the padding: attention_mask must hide the padding *keys*, the "
            "columns of the scores (attention_mask[:, None, None, :]); ignoring it, or masking the rows (the queries), "
            "leaves them visible",
            _block_variant(("x = x + self.attn(self.ln_1(x), attention_mask)", "x = x + self.attn(self.ln_1(x))")),
        ),
        Mistake(
            "nan_padding",
            "NaN at padding positions: with -inf, a padding query that has no key left (a left-padded "
            "row starts with padding) gets softmax over nothing; use torch.finfo(dtype).min or zero those rows",
            _block_variant(
                ("masked_fill(~allowed, torch.finfo(scores.dtype).min)", "masked_fill(~allowed, float('-inf'))")
            ),
        ),
        Mistake(
            "one_norm",
            "you use ln_1 for both sublayers: GPT-2 has two LayerNorms with their own weights, ln_1 before "
            "attention and ln_2 before the MLP",
            _block_variant(("x = x + self.mlp(self.ln_2(x))", "x = x + self.mlp(self.ln_1(x))")),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 4: the GPT


def _hf_gpt(V: int, P: int, L: int, H: int, C: int, seed: int) -> tuple[GPT2LMHeadModel, dict[str, torch.Tensor]]:
    """A float64 GPT2LMHeadModel (tied head, no dropout) with random weights, and the same weights
    in nn.Linear's orientation, by GPT2LMHeadModel's names, without the head (it is ``wte``)."""
    config = GPT2Config(
        vocab_size=V,
        n_positions=P,
        n_embd=C,
        n_layer=L,
        n_head=H,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=None,
    )
    config._attn_implementation = "eager"
    model = GPT2LMHeadModel(config).double().eval()
    g = seeded(seed)
    weights = {}
    with torch.no_grad():
        for name, p in model.named_parameters():  # the tied head is wte's parameter: listed once
            path = name.removesuffix(".weight").removesuffix(".bias")
            if name.endswith("weight") and path.rsplit(".", 1)[-1] in (*NORMS, "ln_f"):
                value = 1 + 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            elif name.endswith("bias"):
                value = 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            elif path.endswith(("wte", "wpe")):
                value = torch.randn(p.shape, generator=g, dtype=torch.float64)
            else:
                value = torch.randn(p.shape, generator=g, dtype=torch.float64) / p.shape[0] ** 0.5 * 1.5
            p.copy_(value.float().double())  # the student's float32 model gets exactly these
            conv1d = name.endswith("weight") and path.split(".", 3)[-1] in LINEARS
            weights[name] = (p.t() if conv1d else p).float().clone()
    assert model.lm_head.weight is model.transformer.wte.weight
    return model, weights


def _gpt_config(V: int, P: int, L: int, H: int, C: int) -> dict[str, int]:
    return {"vocab_size": V, "block_size": P, "n_layer": L, "n_head": H, "n_embd": C}


def _gpt_case(sub: str, shape: tuple[int, ...], B: int, T: int, seed: int, visible: bool) -> Case:
    """``shape = (V, P, L, H, C)``. "loss": full windows of T + 1 tokens, Hugging Face scoring all
    T predictions (labels = the window, shifted inside); "ignore": right-padded windows, labels
    -100 at the padding. The student's model gets ``idx = window[:, :T]`` and the targets
    ``labels[:, 1:]``: already shifted, -100 where nothing is predicted."""
    V, P, L, H, C = shape
    config = _gpt_config(*shape)
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
    model, weights = _hf_gpt(V, P, L, H, C, seed)
    inputs["weights"] = {k: _array(w) for k, w in weights.items()}
    g = seeded(2000 + seed)
    if sub == "logits":
        idx = torch.randint(V, (B, T), generator=g)
        with torch.no_grad():
            logits = model(idx).logits  # (B, T, V)
        inputs |= {"idx": _array(idx), "targets": None}
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
    inputs |= {"idx": _array(window[:, :T]), "targets": _array(targets)}
    label += f", idx ({B}, {T}), targets ({B}, {T})"
    if sub == "ignore":
        label += f" with -100 at {int((targets == -100).sum())} positions (right padding)"
    return Case(sub, inputs, to_plain((logits, loss)), label, visible)


_GPT_SHAPES = {  # (V, P, L, H, C): V differs from P, C, 3C and 4C, so only wte has shape (V, C)
    "small": (37, 12, 2, 2, 8),
    "deeper": (29, 10, 3, 2, 12),
}


@_computed_once
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
    if not (isinstance(expected, dict) and "tuple" in expected):  # a catalogued mistake's result: no pair
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
    if _is_scalar_tensor(loss) != _is_scalar_tensor(want_loss) or value is None:
        raise GradingError(
            f"{what}: the loss must be a 0-dim tensor (loss.backward() trains on it), got {kind_of(loss)}"
        )
    expect_float(loss, value, what="loss", context=case.label, atol=1e-5, rtol=1e-5)


def _is_scalar_tensor(plain: Any) -> bool:
    return isinstance(plain, dict) and "tensor" in plain and plain["tensor"]["shape"] == []


_GPT_SOLUTION = """import torch
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


_TIE = "        self.lm_head.weight = self.transformer.wte.weight\n"
_EMBED = "x = self.transformer.wte(idx) + self.transformer.wpe(pos)"
_LOOP = "        for block in self.transformer.h:\n            x = block(x)\n"
_LOSS = "loss = F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T), ignore_index=-100)"

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
    mistakes=(
        Mistake(
            "no_positions",
            "you add no position embeddings: without wpe the blocks cannot tell the order of the tokens. "
            "Add transformer.wpe(positions 0 .. T-1) to the token embeddings",
            variant(_GPT_SOLUTION, (_EMBED, "x = self.transformer.wte(idx)")),
        ),
        Mistake(
            "positions_from_1",
            "your positions start at 1 (torch.arange(1, T + 1)): the first token's position is 0, so the "
            "positions are torch.arange(T)",
            variant(
                _GPT_SOLUTION,
                ("pos = torch.arange(T, device=idx.device)", "pos = torch.arange(1, T + 1, device=idx.device)"),
            ),
        ),
        Mistake(
            "positions_from_tokens",
            "you look the position embeddings up with the token ids (wpe(idx)); they are looked up with the "
            "positions, torch.arange(T)",
            variant(_GPT_SOLUTION, ("self.transformer.wpe(pos)", "self.transformer.wpe(idx)")),
        ),
        Mistake(
            "untied",
            "your head is a separate nn.Linear with its own (V, C) weight: GPT-2 ties it to the token "
            "embedding, self.lm_head.weight = self.transformer.wte.weight (one Parameter, two uses)",
            variant(_GPT_SOLUTION, (_TIE, "")),
        ),
        Mistake(
            "tied_by_copy",
            "you copy the embedding's values into the head when the model is built: they are two Parameters, "
            "which loading weights or training makes different. Assign the Parameter itself: "
            "self.lm_head.weight = self.transformer.wte.weight",
            variant(
                _GPT_SOLUTION, (_TIE, "        self.lm_head.weight.data.copy_(self.transformer.wte.weight.data)\n")
            ),
        ),
        Mistake(
            "no_final_norm",
            "you do not apply the final LayerNorm ln_f before the head: GPT-2 normalises the last block's "
            "output, x = transformer.ln_f(x), then computes the logits",
            variant(_GPT_SOLUTION, ("        x = self.transformer.ln_f(x)\n", "")),
        ),
        Mistake(
            "blocks_reversed",
            "you apply the blocks in reverse order: h[0] comes first, then h[1], ...",
            variant(_GPT_SOLUTION, ("for block in self.transformer.h:", "for block in reversed(self.transformer.h):")),
        ),
        Mistake(
            "first_block_only",
            "only the first block runs (x = h[0](x)): apply every block, in order",
            variant(_GPT_SOLUTION, (_LOOP, "        x = self.transformer.h[0](x)\n")),
        ),
        Mistake(
            "shifted_again",
            "you shift the targets again (logits[:, :-1] against targets[:, 1:]): here the targets are already "
            "shifted, targets[b, t] is the token after idx[b, t]; score logits[:, t] against targets[:, t]",
            variant(
                _GPT_SOLUTION,
                (
                    _LOSS,
                    "loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), targets[:, 1:].reshape(-1))",
                ),
            ),
        ),
        Mistake(
            "counts_ignored",
            "your loss counts the positions whose target is -100 (you clamp or replace them): leave them out "
            "of the mean, as F.cross_entropy(..., ignore_index=-100) does",
            variant(
                _GPT_SOLUTION,
                (
                    _LOSS,
                    "log_probs = logits.log_softmax(dim=-1)\n"
                    "            loss = -log_probs.gather(-1, targets.clamp(min=0)[..., None]).mean()",
                ),
            ),
        ),
        Mistake(
            "summed_loss",
            "your loss is the sum over the tokens (reduction='sum'); it is their mean",
            variant(_GPT_SOLUTION, ("ignore_index=-100)", "ignore_index=-100, reduction='sum')")),
        ),
        Mistake(
            "last_position_only",
            "without targets you return the logits of the last position only, (B, 1, V) (nanoGPT's shortcut "
            "for generation); return every position's, (B, T, V)",
            variant(
                _GPT_SOLUTION,
                ("logits = self.lm_head(x)", "logits = self.lm_head(x if targets is not None else x[:, [-1], :])"),
            ),
        ),
        Mistake(
            "softmax",
            "you return probabilities (softmax of the logits): return the logits themselves; cross-entropy "
            "applies log-softmax itself",
            variant(_GPT_SOLUTION, ("logits = self.lm_head(x)", "logits = self.lm_head(x).softmax(dim=-1)")),
        ),
        Mistake(
            "scaled_embeddings",
            "you multiply the token embeddings by sqrt(C), as the 2017 Transformer does; GPT-2 adds the "
            "token and position embeddings as they are",
            variant(
                _GPT_SOLUTION,
                ("self.transformer.wte(idx) +", "self.transformer.wte(idx) * self.config.n_embd ** 0.5 +"),
            ),
        ),
        Mistake(
            "logits_alone",
            "without targets you return the logits alone: forward always returns a pair, (logits, None) "
            "when there are no targets",
            variant(
                _GPT_SOLUTION, ("        loss = None\n", "        if targets is None:\n            return logits\n")
            ),
        ),
    ),
)


# ---------------------------------------------------------------- exercise 5: one training step

_STEP_SHAPE = (29, 16, 2, 2, 8)  # (V, P, L, H, C) of the GPT the step trains


def _optimizer(kind: str, settings: dict[str, Any], params) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, **settings) if kind == "adamw" else torch.optim.SGD(params, **settings)


def _step_expected(model: GPT2LMHeadModel, optimizer: tuple, max_grad_norm: float, batches: list) -> tuple:
    """What ``transformers.Trainer`` does per step, written out on Hugging Face's model (float64):
    train mode, forward, loss, backward, clip_grad_norm_ over every parameter, step, zero_grad.
    Returns the losses, the parameters after the last step (nn.Linear's orientation) and the
    gradients' global norm at the first step."""
    kind, settings = optimizer
    opt = _optimizer(kind, settings, model.parameters())
    losses, norms = [], []
    for x, y in batches:
        model.train()
        logits = model(x).logits  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)))
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    parameters = {}
    for name, p in model.named_parameters():
        path = name.removesuffix(".weight")
        conv1d = name.endswith("weight") and path.split(".", 3)[-1] in LINEARS
        parameters[name] = (p.t() if conv1d else p).detach().clone()
    return losses, parameters, norms[0]


def _step_case(
    sub: str,
    optimizer: tuple,
    max_grad_norm: float,
    steps: int,
    B: int,
    T: int,
    seed: int,
    visible: bool,
    start_in_train_mode: bool = False,
) -> Case:
    model, weights = _hf_gpt(*_STEP_SHAPE, seed)
    g = seeded(3000 + seed)
    batches = []
    for _ in range(steps):
        window = torch.randint(_STEP_SHAPE[0], (B, T + 1), generator=g)
        batches.append((window[:, :T], window[:, 1:]))
    losses, parameters, norm = _step_expected(model, optimizer, max_grad_norm, batches)
    kind, settings = optimizer
    inputs = {
        "start_in_train_mode": start_in_train_mode,
        "config": _gpt_config(*_STEP_SHAPE),
        "weights": {k: _array(w.double()) for k, w in weights.items()},
        "optimizer": optimizer,
        "max_grad_norm": max_grad_norm,
        "batches": [(_array(x), _array(y)) for x, y in batches],
    }
    described = ", ".join(f"{k}={v}" for k, v in settings.items())
    label = (
        f"{steps} step{'s' if steps > 1 else ''} of {'AdamW' if kind == 'adamw' else 'SGD'}({described}) on "
        f"batches x, y ({B}, {T}), max_grad_norm={max_grad_norm:g} (the gradients' global norm at the first step "
        f"is {norm:.3g}: clipping {'active' if norm > max_grad_norm else 'inactive'})"
    )
    label += f", the model in {'training' if start_in_train_mode else 'eval'} mode before the first step"
    if (sub == "clip") != (norm > max_grad_norm):
        raise ValueError(f"{label}: only the clip cases clip, and each of them does")
    expected = (losses, parameters, [True] * steps)  # what the runner returns: the step, the model, its modes
    return Case(sub, inputs, to_plain(expected), label, visible)


_SGD = ("sgd", {"lr": 0.1, "momentum": 0.9})
_ADAMW = ("adamw", {"lr": 0.01, "weight_decay": 0.1})
_NO_CLIP = 1e6


@_computed_once
@one_thread()
def _step_cases(hidden: bool) -> list[Case]:
    cases = [
        _step_case("loss", _SGD, _NO_CLIP, 1, 2, 8, 0, True),
        _step_case("update", _SGD, _NO_CLIP, 1, 2, 8, 1, True),
        _step_case("update", _ADAMW, _NO_CLIP, 1, 3, 6, 2, True),
        _step_case("clip", _SGD, 0.5, 1, 2, 8, 3, True),
        _step_case("clip", ("sgd", {"lr": 0.05}), 2.0, 1, 3, 6, 4, True),
        _step_case("zero_grad", _ADAMW, _NO_CLIP, 3, 2, 8, 5, True),
        _step_case("zero_grad", _SGD, _NO_CLIP, 3, 2, 6, 6, True),
        _step_case("train_mode", _SGD, _NO_CLIP, 1, 2, 8, 7, True),
        _step_case("train_mode", _SGD, _NO_CLIP, 1, 2, 8, 8, True, start_in_train_mode=True),
    ]
    if hidden:
        cases += [
            _step_case("loss", _ADAMW, _NO_CLIP, 1, 4, 12, 10, False),
            _step_case("update", ("sgd", {"lr": 0.3}), _NO_CLIP, 1, 1, 15, 11, False),
            _step_case(
                "update",
                ("adamw", {"lr": 0.003, "betas": (0.8, 0.9), "weight_decay": 0.0}),
                _NO_CLIP,
                1,
                4,
                5,
                12,
                False,
            ),
            _step_case("clip", _SGD, 0.25, 1, 4, 10, 13, False),
            _step_case("clip", ("sgd", {"lr": 0.1, "momentum": 0.5}), 1.5, 1, 1, 15, 14, False),
            _step_case("zero_grad", ("sgd", {"lr": 0.05}), _NO_CLIP, 3, 3, 7, 15, False),
            _step_case("zero_grad", _ADAMW, _NO_CLIP, 3, 1, 12, 16, False),
            _step_case("train_mode", _ADAMW, _NO_CLIP, 3, 2, 5, 17, False),
        ]
    return cases


def _step_compare(case: Case, got: Any, expected: Any) -> None:
    what = f"train_step for {case.label}"
    returned, parameters, modes = items_of(got, what, 3)
    want_returned, want_parameters, want_modes = items_of(expected, what, 3)
    if case.subcheck == "loss":
        value, want = returned["list"][0], want_returned["list"][0]
        want_value = float_of(want)
        if kind_of(value) != kind_of(want) or want_value is None:
            raise GradingError(f"{what}: expected the loss as a {kind_of(want)} (loss.item()), got {kind_of(value)}")
        expect_float(
            value,
            want_value,
            what="the returned loss (before the update)",
            context=case.label,
            atol=1e-6,
            rtol=1e-6,
        )
        return
    if case.subcheck == "train_mode":
        if not modes["list"]:
            raise GradingError(f"{what}: the model was never called")
        if not all(modes["list"]) if all(want_modes["list"]) else modes != want_modes:
            raise GradingError(
                f"{what}: the forward pass ran in eval mode; call model.train() first (the model may come in "
                "eval mode, e.g. after an evaluation; dropout is on only in training mode)"
            )
        return
    have = parameters.get("dict", {}) if isinstance(parameters, dict) else {}
    for name, value in want_parameters["dict"].items():
        expect_tensor(
            have.get(name),
            value,
            what=f"the parameter {name} after the step(s)",
            context=case.label,
            atol=1e-6,
            rtol=1e-6,
        )


_STEP_SOLUTION = """import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
"""
_ZERO = "    optimizer.zero_grad()\n"
_BACKWARD = "    loss.backward()\n"
_CLIP = "    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)\n"
_STEP = "    optimizer.step()\n"

TRAIN_STEP = Exercise(
    name="train_step",
    cell="train_step",
    test_cell="train_step_tests",
    points=4,
    subchecks=(
        SubCheck("loss", 0.5, "returns the batch's loss before the update, as a Python float"),
        SubCheck(
            "update",
            1.0,
            "one step: forward, backward, optimizer.step() once; the parameters then equal those of the "
            "same step done as transformers.Trainer does it",
        ),
        SubCheck(
            "clip",
            1.0,
            "the gradients are clipped to a global norm of max_grad_norm over all parameters "
            "(torch.nn.utils.clip_grad_norm_), after backward and before the step",
        ),
        SubCheck(
            "zero_grad",
            1.0,
            "no gradient is carried from one step to the next: three steps equal three Trainer steps",
        ),
        SubCheck(
            "train_mode", 0.5, "the forward pass runs in training mode (model.train()), whatever mode the model was in"
        ),
    ),
    cases=_step_cases,
    run=RUNNERS["train_step"],
    compare=_step_compare,
    forbidden=Forbidden(
        python=("llmcourse.train:train_step",),
        names=("llmcourse.train", "Trainer", "training_step"),
    ),
    mistakes=(
        Mistake(
            "no_zero_grad",
            "you never clear the gradients: backward() adds to .grad, so each step also applies the gradients "
            "of every earlier batch. Call optimizer.zero_grad() at the start (or the end) of each step",
            variant(_STEP_SOLUTION, (_ZERO, "")),
        ),
        Mistake(
            "zero_grad_before_step",
            "you clear the gradients after backward() and before optimizer.step(): the step sees no gradient. "
            "Clear them at the start of the step, or after optimizer.step()",
            variant(_STEP_SOLUTION, (_ZERO, ""), (_BACKWARD, _BACKWARD + _ZERO)),
        ),
        Mistake(
            "clip_by_value",
            "you clip each gradient entry to [-max_grad_norm, max_grad_norm] (clip_grad_value_); clip the "
            "global norm of all gradients together, torch.nn.utils.clip_grad_norm_",
            variant(_STEP_SOLUTION, ("clip_grad_norm_(", "clip_grad_value_(")),
        ),
        Mistake(
            "clip_per_parameter",
            "you clip each parameter's gradient by its own norm: clip_grad_norm_ takes all the parameters at "
            "once and scales every gradient by the same factor, from their global norm",
            variant(
                _STEP_SOLUTION,
                (_CLIP, "    for p in model.parameters():\n        torch.nn.utils.clip_grad_norm_(p, max_grad_norm)\n"),
            ),
        ),
        Mistake(
            "no_clip",
            "the step uses unclipped gradients: no clipping, or clipping after optimizer.step() (too late) or "
            "before backward() (no gradient yet). Call torch.nn.utils.clip_grad_norm_(model.parameters(), "
            "max_grad_norm) between backward() and step()",
            variant(_STEP_SOLUTION, (_CLIP, "")),
        ),
        Mistake(
            "fixed_max_norm",
            "you clip to a norm of 1.0 whatever max_grad_norm is: use the max_grad_norm you are given",
            variant(_STEP_SOLUTION, ("model.parameters(), max_grad_norm)", "model.parameters(), 1.0)")),
        ),
        Mistake(
            "loss_divided",
            "you divide the loss by the batch size before backward(): it is already the mean over every token of "
            "the batch, so the gradients come out too small",
            variant(_STEP_SOLUTION, (_BACKWARD, "    (loss / x.shape[0]).backward()\n")),
        ),
        Mistake(
            "batch_swapped",
            "you unpack the batch as (targets, inputs): batch = (x, y), the inputs first and the next-token "
            "targets second; the model is called as model(x, y)",
            variant(_STEP_SOLUTION, ("    x, y = batch\n", "    y, x = batch\n")),
        ),
        Mistake(
            "step_twice",
            "you call optimizer.step() twice: one call per training step",
            variant(_STEP_SOLUTION, (_STEP, _STEP + _STEP)),
        ),
        Mistake(
            "returns_tensor",
            "you return the loss tensor: return a Python float, loss.item() (a tensor keeps its whole graph "
            "alive as long as you keep it, e.g. in a list of losses)",
            variant(_STEP_SOLUTION, ("return loss.item()", "return loss")),
        ),
        Mistake(
            "loss_after_update",
            "you return the loss computed again after the update: return the loss of the forward pass that "
            "the step was computed from",
            variant(_STEP_SOLUTION, ("return loss.item()", "return model(x, y)[1].item()")),
        ),
        Mistake(
            "eval_mode",
            "you put the model in eval mode (model.eval()): training runs in training mode, model.train() "
            "(dropout is only on in training mode)",
            variant(_STEP_SOLUTION, ("model.train()", "model.eval()")),
        ),
        Mistake(
            "no_train_mode",
            "you never call model.train(): a model that comes in eval mode (after an evaluation, say) trains "
            "without dropout. Call model.train() at the start of the step",
            variant(_STEP_SOLUTION, ("    model.train()\n", "")),
        ),
    ),
)


EXERCISES: dict[str, Exercise] = {
    "causal_mask": CAUSAL_MASK,
    "causal_lm_loss": CAUSAL_LM_LOSS,
    "block": BLOCK,
    "gpt": GPT_EXERCISE,
    "train_step": TRAIN_STEP,
}


def check_causal_mask(fn, hidden: bool = False) -> None:
    """Exercise 1. Visible: small sizes; hidden: T = 1 up to 512."""
    check(CAUSAL_MASK, fn, hidden)


def check_causal_lm_loss(fn, hidden: bool = False) -> None:
    """Exercise 2, against the loss GPT2LMHeadModel returns (labels = input_ids, padding -100).
    Hidden: more shapes, vocabularies, paddings and float64 logits."""
    check(CAUSAL_LM_LOSS, fn, hidden)


def check_block(cls, hidden: bool = False) -> None:
    """Exercise 3, against Hugging Face's GPT2Block with the same weights; a correct causal_mask
    stands in for yours while it runs. Hidden: more widths, heads, lengths and paddings."""
    check(BLOCK, cls, hidden)


def check_gpt(cls, hidden: bool = False) -> None:
    """Exercise 4, against Hugging Face's GPT2LMHeadModel with the same weights; a correct Block
    stands in for yours while it runs. Hidden: more vocabularies, depths, widths and lengths."""
    check(GPT_EXERCISE, cls, hidden)


def check_train_step(fn, hidden: bool = False) -> None:
    """Exercise 5, against the steps transformers.Trainer takes, written out on GPT2LMHeadModel with
    the same weights. Hidden: more optimizers, clipping thresholds and batches."""
    check(TRAIN_STEP, fn, hidden)
