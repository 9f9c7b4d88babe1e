"""Graded checks of chapter 04 (evaluating LLMs), declared for the grading engine.

Test cells call ``check_perplexity(fn)``, ``check_sliding_window_perplexity(fn)``, ``check_bleu(fn)``,
``check_rouge_n(fn)``, ``check_rouge_l(fn)``, ``check_score_choices(fn)`` and ``check_accuracy(fn)``
(visible cases); the hidden part adds ``hidden=True``.

Expected values come from independent oracles, never from the course's reference
(:mod:`llmcourse.metrics`, :mod:`llmcourse.text_metrics`):

- perplexity: ``torch.nn.functional.cross_entropy`` in float64 with the padding labelled -100
  (what a Hugging Face causal LM's loss does);
- sliding-window perplexity: small random ``GPT2LMHeadModel``\\ s (fixed seeds), each token scored on
  its own by a forward pass over the context its window gives it, and the model's own loss when
  the text fits one window;
- BLEU: ``sacrebleu.corpus_bleu`` with its defaults; ROUGE: ``rouge_score``'s ``RougeScorer``
  without stemming;
- multiple-choice scores: small random ``GPT2LMHeadModel``\\ s in float64, each choice's log-likelihood
  minus the cross-entropy of the context + choice with the context's labels -100; acc, acc_norm and
  acc_bytes: lm-evaluation-harness's definitions (``process_results`` for multiple_choice) in numpy.

Each exercise's ``mistakes`` and ``alternatives`` are complete answers (imports included), as a
student could hand them in; the mutation suite grades every one of them.
"""

from __future__ import annotations

import functools
import io
import math
import random
from typing import Any, cast

import numpy as np
import sacrebleu
import torch
import torch.nn.functional as F
from rouge_score import rouge_scorer

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    check,
    expect_float,
    float_of,
    items_of,
    kind_of,
    to_plain,
    values_of,
)
from llmcourse.grading.kit import mistakes, seeded, variant
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch04 import _RAISED, RUNNERS, TINY_GPT2, tiny_model

METRICS = "llmcourse.metrics"
TEXT_METRICS = "llmcourse.text_metrics"
REFERENCE_NAMES = (
    METRICS,
    TEXT_METRICS,
    "llmcourse.train",
    "token_nll",
    "window_losses",
    "sliding_window_perplexity_variants",
    "document_cross_entropy",
    "tokenize_rouge",
    "lcs_length",
)
# The source layer matches a module name exactly, so the submodules of a forbidden package are listed too.
SACREBLEU_NAMES = (
    "sacrebleu",
    "sacrebleu.metrics",
    "sacrebleu.metrics.bleu",
    "sacrebleu.compat",
    "sacrebleu.tokenizers",
    "sacrebleu.tokenizers.tokenizer_13a",
    "corpus_bleu",
)
ROUGE_SCORE_NAMES = (
    "rouge_score",
    "rouge_score.rouge_scorer",
    "rouge_score.tokenize",
    "rouge_score.tokenizers",
    "rouge_score.scoring",
    "rouge_scorer",
    "RougeScorer",
)
NLTK_NAMES = ("nltk", "nltk.translate", "nltk.translate.bleu_score")


def _number(got: Any, expected: Any, *, what: str, context: str, atol: float, rtol: float) -> None:
    """``got`` (plain) must be a number close to ``expected`` (plain: the oracle's, or a catalogued mistake's)."""
    value = float_of(expected)
    if value is None:
        raise GradingError(f"{what} for {context}: the result to compare with is {kind_of(expected)}, not a number")
    expect_float(got, value, what=what, context=context, atol=atol, rtol=rtol)


def _python_float(got: Any, expected: Any, *, what: str, context: str) -> None:
    """A result must be a Python float (or int), not a tensor or array (a 0-dim one included, which
    ``expect_float`` would accept). A catalogued mistake's result (``expected``) that is itself a
    tensor is compared by value, so that the mistake returning one is recognised."""
    if isinstance(got, dict) and "tensor" in got and not (isinstance(expected, dict) and "tensor" in expected):
        inner = got["tensor"]
        shown = f"a 0-dim {inner['kind']}" if inner["shape"] == [] else kind_of(got)
        raise GradingError(f"{what} for {context}: expected a Python float, got {shown}: call .item()")


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...]"


# ======================================================================================
# exercise 1: perplexity
# ======================================================================================

_PPL = """import math
import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V)
    targets = input_ids[:, 1:]  # (B, T-1)
    mask = attention_mask[:, 1:].bool()  # (B, T-1)
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return math.exp(nll[mask].mean().item())
"""

PERPLEXITY_MISTAKES = [
    (
        "no_shift",
        "your perplexity compares logits[:, t] with input_ids[:, t] instead of input_ids[:, t+1] (no shift): "
        "the logits at position t predict the *next* token",
        """import math
import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    nll = -log_probs.gather(-1, input_ids.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return math.exp(nll[attention_mask.bool()].mean().item())
""",
    ),
    (
        "padding_counted",
        "your perplexity ignores attention_mask: the padding tokens are counted as targets",
        """import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    shift_logits = logits[:, :-1, :]
    shift_labels = input_ids[:, 1:]
    loss = F.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1))
    return torch.exp(loss).item()
""",
    ),
    (
        "log_base_2",
        "your perplexity takes log base 2 of the probabilities (bits) but then exponentiates with e: "
        "use 2 ** bits, or natural logs with exp",
        """import math
import torch


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    probs = torch.softmax(logits[:, :-1].float(), dim=-1)
    p_target = probs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    nll = -torch.log2(p_target)
    mask = attention_mask[:, 1:].bool()
    return math.exp(nll[mask].mean().item())
""",
    ),
    (
        "mean_of_sequence_perplexities",
        "your perplexity averages the perplexities of the rows: it must be exp of the mean NLL over all "
        "predicted tokens of the batch (a long row counts more than a short one)",
        """import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1)
    nll = -log_probs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    mask = attention_mask[:, 1:].float()
    per_sequence = (nll * mask).sum(dim=1) / mask.sum(dim=1)  # (B,)
    return torch.exp(per_sequence).mean().item()
""",
    ),
    (
        "mask_on_inputs",
        "your perplexity masks with attention_mask[:, :-1] (the positions that predict) instead of "
        "attention_mask[:, 1:] (the targets): with right padding the first padding token is scored",
        variant(_PPL, ("mask = attention_mask[:, 1:].bool()", "mask = attention_mask[:, :-1].bool()")),
    ),
    (
        "divides_by_tokens",
        "your perplexity divides the summed NLL by attention_mask.sum(), the number of tokens, instead of "
        "the number of predicted tokens (the first token of each row is never predicted)",
        variant(
            _PPL,
            (
                "return math.exp(nll[mask].mean().item())",
                "return math.exp((nll[mask].sum() / attention_mask.sum()).item())",
            ),
        ),
    ),
    (
        "shift_wrong_way",
        "your perplexity shifts the wrong way: logits[:, 1:] against input_ids[:, :-1] asks each position to predict "
        "the token before it; logits[:, :-1] predict input_ids[:, 1:]",
        variant(
            _PPL,
            ("logits[:, :-1].float()", "logits[:, 1:].float()"),
            ("targets = input_ids[:, 1:]", "targets = input_ids[:, :-1]"),
        ),
    ),
    (
        "no_log_softmax",
        "your perplexity takes the raw logits as log-probabilities: apply log_softmax over the vocabulary first",
        variant(
            _PPL, ("log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1)", "log_probs = logits[:, :-1].float()")
        ),
    ),
    (
        "softmax_over_time",
        "your log_softmax runs over the positions (dim=1): each position's distribution is over the vocabulary, "
        "the last dimension",
        variant(
            _PPL,
            (
                "log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1)",
                "log_probs = F.log_softmax(logits.float(), dim=1)[:, :-1]",
            ),
        ),
    ),
    (
        "no_exp",
        "your perplexity returns the mean negative log-likelihood (the cross-entropy): perplexity is its exponential",
        variant(_PPL, ("return math.exp(nll[mask].mean().item())", "return nll[mask].mean().item()")),
    ),
    (
        "mean_of_token_perplexities",
        "your perplexity averages exp(NLL) of the tokens: it is exp of the mean NLL (the exponential comes last)",
        variant(_PPL, ("return math.exp(nll[mask].mean().item())", "return nll[mask].exp().mean().item()")),
    ),
    (
        "first_row_only",
        "your perplexity scores only the first row of the batch: every row's predicted tokens count",
        variant(_PPL, ("return math.exp(nll[mask].mean().item())", "return math.exp(nll[0][mask[0]].mean().item())")),
    ),
    (
        "returns_tensor",
        "your perplexity returns a 0-dim torch.Tensor (torch.exp(loss)): it must return a Python float; call .item()",
        variant(_PPL, ("return math.exp(nll[mask].mean().item())", "return torch.exp(nll[mask].mean())")),
    ),
    (
        "mean_over_all_positions",
        "your perplexity multiplies the NLL by the mask but divides by every position: divide by the number of "
        "predicted tokens that are not padding",
        variant(_PPL, ("return math.exp(nll[mask].mean().item())", "return math.exp((nll * mask).mean().item())")),
    ),
]


# The course's reference for perplexity. window_losses is wrapped by @torch.no_grad(), whose
# wrapper the guard cannot swap (a closure): its __wrapped__ function is listed instead.
_METRICS_FUNCTIONS = (
    "perplexity",
    "token_nll",
    "sliding_window_perplexity",
    "window_losses.__wrapped__",
    "sliding_window_perplexity_variants",
)


def _ppl_oracle(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> float:
    """exp of the cross-entropy of logits[:, t] against input_ids[:, t+1], padding labelled -100 (float64)."""
    labels = input_ids.clone()
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    V = logits.shape[-1]
    loss = F.cross_entropy(logits[:, :-1].double().reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    return math.exp(loss.item())


def _ppl_case(sub: str, seed: int, B: int, T: int, V: int, lengths: list[int] | None, visible: bool) -> Case:
    g = seeded(seed)
    logits = torch.randn(B, T, V, generator=g) * 2.5  # (B, T, V): spread out, so that mistakes show
    input_ids = torch.randint(0, V, (B, T), generator=g)
    mask = None
    label = f"logits {(B, T, V)}, input_ids {(B, T)}"
    if lengths is not None:
        mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).long()  # right padding
        input_ids = input_ids.masked_fill(mask == 0, 0)  # padding id 0
        label += f", attention_mask with {lengths} real tokens per row (then padding)"
    else:
        label += ", no attention_mask"
    return Case(sub, (logits, input_ids, mask), to_plain(_ppl_oracle(logits, input_ids, mask)), label, visible)


@functools.lru_cache(maxsize=2)
def _ppl_cases(hidden: bool) -> list[Case]:
    cases = [
        _ppl_case("shift", 0, 1, 6, 7, None, True),
        _ppl_case("shift", 1, 1, 9, 11, None, True),
        _ppl_case("batch", 2, 3, 5, 7, None, True),
        _ppl_case("mask", 3, 3, 7, 9, [7, 3, 5], True),
        _ppl_case("mask", 4, 2, 6, 8, [2, 6], True),
    ]
    if hidden:
        cases += [
            _ppl_case("shift", 10, 1, 2, 5, None, False),
            _ppl_case("shift", 11, 1, 40, 50, None, False),
            _ppl_case("batch", 12, 4, 9, 13, None, False),
            _ppl_case("batch", 13, 8, 3, 30, None, False),
            _ppl_case("mask", 14, 4, 12, 20, [12, 1, 7, 2], False),
            _ppl_case("mask", 15, 5, 16, 64, [3, 16, 9, 16, 10], False),
            _ppl_case("mask", 16, 2, 30, 17, [30, 30], False),
        ]
    return cases


def _ppl_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "shift":  # the requirement that says "returns a Python float"
        _python_float(got, expected, what="perplexity", context=case.label)
    _number(got, expected, what="perplexity", context=case.label, atol=1e-6, rtol=1e-5)


PERPLEXITY = Exercise(
    name="perplexity",
    cell="perplexity",
    test_cell="perplexity_tests",
    points=3,
    subchecks=(
        SubCheck(
            "shift",
            1.5,
            "one text: returns a Python float (not a tensor); logits[:, t] predicts input_ids[:, t+1]; "
            "exp of the mean negative log-likelihood of those tokens",
        ),
        SubCheck(
            "batch",
            0.5,
            "a batch: one mean over all predicted tokens of the batch (not a mean of per-row perplexities)",
        ),
        SubCheck("mask", 1.0, "targets whose attention_mask is 0 (padding) are not counted"),
    ),
    cases=_ppl_cases,
    run=RUNNERS["perplexity"],
    compare=_ppl_compare,
    forbidden=Forbidden(
        python=tuple(f"{METRICS}:{name}" for name in _METRICS_FUNCTIONS),
        names=REFERENCE_NAMES,
    ),
    mistakes=mistakes(PERPLEXITY_MISTAKES),
)


# ======================================================================================
# exercise 2: sliding_window_perplexity
# ======================================================================================

_GUIDE = """import torch


def sliding_window_perplexity(model, input_ids, max_length, stride):
    seq_len = input_ids.size(1)
    nlls = []
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc  # may be different from stride on the last loop
        ids = input_ids[:, begin_loc:end_loc]
        target_ids = ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            outputs = model(ids, labels=target_ids)
        nlls.append(outputs.loss)
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return torch.exp(torch.stack(nlls).mean()).item()
"""

# A correct answer, the template of the mistakes below: each window scores the tokens after the
# previous window's end, with the whole window as context.
_SW_CORRECT = """import math
import torch
import torch.nn.functional as F
from llmcourse.models import logits_fn


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    logits_of = logits_fn(model)
    nll_sum, n_tokens, prev_end = 0.0, 0, 0
    with torch.no_grad():
        for begin in range(0, N, stride):
            end = min(begin + max_length, N)
            window = input_ids[:, begin:end]
            logits = logits_of(window)
            first = max(prev_end, begin + 1)  # the first token this window scores
            if end > first:
                nll_sum += F.cross_entropy(
                    logits[0, first - begin - 1 : end - begin - 1], input_ids[0, first:end], reduction="sum"
                ).item()
                n_tokens += end - first
            prev_end = end
            if end == N:
                break
    return math.exp(nll_sum / n_tokens)
"""

SLIDING_WINDOW_MISTAKES = [
    (
        "average_per_window",
        "your sliding-window perplexity averages the windows' losses: the last window scores fewer tokens "
        "than the others, so weight each window by the number of tokens it scores",
        _GUIDE,
    ),
    (
        "trg_len_minus_1",
        "your sliding-window perplexity weights each window by trg_len - 1: only the first window loses a "
        "token to the shift; a later window scores all of its trg_len new tokens",
        variant(
            _GUIDE,
            ("    nlls = []\n", "    nll_sum, n_tokens = 0.0, 0\n"),
            (
                "        nlls.append(outputs.loss)\n",
                "        num_loss_tokens = (target_ids != -100).sum().item() - target_ids.size(0)  # label shift\n"
                "        nll_sum += outputs.loss.item() * num_loss_tokens\n"
                "        n_tokens += num_loss_tokens\n",
            ),
            (
                "return torch.exp(torch.stack(nlls).mean()).item()",
                "return torch.exp(torch.tensor(nll_sum / n_tokens)).item()",
            ),
        ),
    ),
    (
        "trg_len_weights_over_n",
        "your sliding-window perplexity weights the windows by trg_len and divides by the text's length: "
        "the first token is never predicted, so the first window scores trg_len - 1 tokens and the total is N - 1",
        variant(
            _GUIDE,
            ("        nlls.append(outputs.loss)\n", "        nlls.append(outputs.loss * trg_len)\n"),
            (
                "return torch.exp(torch.stack(nlls).mean()).item()",
                "return torch.exp(torch.stack(nlls).sum() / end_loc).item()",
            ),
        ),
    ),
    (
        "rescores_overlap",
        "your sliding-window perplexity scores every token of every window: tokens in the overlap are "
        "scored again; each window must score only the tokens no earlier window scored",
        """import math
import torch
import torch.nn.functional as F


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    with torch.no_grad():
        for begin in range(0, N, stride):
            end = min(begin + max_length, N)
            logits = model(input_ids[:, begin:end]).logits  # (1, W, V)
            nll_sum += F.cross_entropy(logits[0, :-1], input_ids[0, begin + 1 : end], reduction="sum").item()
            n_tokens += end - begin - 1
            if end == N:
                break
    return math.exp(nll_sum / n_tokens)
""",
    ),
    (
        "stride_max_length_swapped",
        "your sliding-window perplexity swaps stride and max_length: windows must start every `stride` "
        "tokens and be at most `max_length` long",
        """import math
import torch
import torch.nn.functional as F


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    with torch.no_grad():
        for begin in range(0, N, max_length):
            end = min(begin + stride, N)
            if end - begin < 2:
                continue
            logits = model(input_ids[:, begin:end]).logits
            nll_sum += F.cross_entropy(logits[0, :-1], input_ids[0, begin + 1 : end], reduction="sum").item()
            n_tokens += end - begin - 1
    return math.exp(nll_sum / n_tokens)
""",
    ),
    (
        "no_context",
        "your sliding-window perplexity feeds each window only the tokens it scores: the earlier tokens of "
        "the window must be there as context (and the first new token of each window goes unscored)",
        """import math
import torch
import torch.nn.functional as F


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    prev_end = 0
    with torch.no_grad():
        for begin in range(0, N, stride):
            end = min(begin + max_length, N)
            new_tokens = input_ids[:, prev_end:end]  # only what this window has to score
            if new_tokens.size(1) > 1:
                logits = model(new_tokens).logits
                nll_sum += F.cross_entropy(logits[0, :-1], new_tokens[0, 1:], reduction="sum").item()
                n_tokens += new_tokens.size(1) - 1
            prev_end = end
            if end == N:
                break
    return math.exp(nll_sum / n_tokens)
""",
    ),
    (
        "hugging_face_only",
        "your sliding-window perplexity calls model(ids, labels=...) and reads .loss: model may be any causal LM "
        "logits_fn accepts (a plain function ids -> logits has no labels argument); compute the loss from the logits",
        variant(
            _GUIDE,
            ("    nlls = []\n", "    nll_sum, n_tokens = 0.0, 0\n"),
            (
                "        nlls.append(outputs.loss)\n",
                "        n = (target_ids[:, 1:] != -100).sum().item()\n"
                "        nll_sum += outputs.loss.item() * n\n"
                "        n_tokens += n\n",
            ),
            (
                "return torch.exp(torch.stack(nlls).mean()).item()",
                "return torch.exp(torch.tensor(nll_sum / n_tokens)).item()",
            ),
        ),
    ),
    (
        "logits_attribute",
        "your sliding-window perplexity reads model(ids).logits: model may be any causal LM logits_fn accepts, and a "
        "plain function ids -> logits returns the logits themselves (logits_fn(model, ids) handles both)",
        _SW_CORRECT.replace("logits = logits_of(window)", "logits = model(window).logits"),
    ),
    (
        "window_one_short",
        "your windows hold max_length - 1 tokens: a window is input_ids[:, begin : begin + max_length]",
        _SW_CORRECT.replace("end = min(begin + max_length, N)", "end = min(begin + max_length - 1, N)"),
    ),
    (
        "first_window_only",
        "your sliding-window perplexity scores the first window only (the text truncated to max_length): the windows "
        "go on every stride tokens until the end of the text",
        _SW_CORRECT.replace("            if end == N:\n", "            if True:\n"),
    ),
    (
        "disjoint_windows",
        "your windows do not overlap (a new one every max_length tokens): they start every stride tokens, so that "
        "each keeps max_length - stride tokens of context",
        _SW_CORRECT.replace("for begin in range(0, N, stride):", "for begin in range(0, N, max_length):"),
    ),
    (
        "divides_by_n",
        "your sliding-window perplexity divides the summed NLL by N, the number of tokens: the first token is never "
        "predicted, so the mean is over N - 1",
        _SW_CORRECT.replace("return math.exp(nll_sum / n_tokens)", "return math.exp(nll_sum / N)"),
    ),
    (
        "returns_tensor",
        "your sliding-window perplexity returns a 0-dim torch.Tensor: it must return a Python float; call .item()",
        _SW_CORRECT.replace(
            "return math.exp(nll_sum / n_tokens)", "return torch.exp(torch.tensor(nll_sum / n_tokens))"
        ),
    ),
    (
        "first_output",
        "your sliding-window perplexity takes model(ids)[0] as the logits (the course GPT's (logits, loss)): a plain "
        "function ids -> logits returns the logits tensor itself, whose [0] is the first row; logits_fn(model) "
        "handles every kind of model",
        _SW_CORRECT.replace("logits = logits_of(window)", "logits = model(window)[0]"),
    ),
]


@functools.cache
def tiny_weights(seed: int) -> bytes:
    """The weights of ``tiny_model(seed=seed)``, saved as bytes. Cases carry these bytes, not
    tensors: the engine sends a job's inputs to the student's process by pickling, where every
    tensor takes a file descriptor (at most 256 per process start); equal bytes are pickled once."""
    buffer = io.BytesIO()
    torch.save(tiny_model(seed=seed).state_dict(), buffer)
    return buffer.getvalue()


@torch.no_grad()
def _sw_oracle(model, input_ids: torch.Tensor, max_length: int, stride: int) -> float:
    """Brute force: each token t >= 1 on its own, with the context of the first window that
    reaches it (windows start at 0, stride, 2 stride, ... and read max_length tokens)."""
    N = input_ids.shape[1]
    total = 0.0
    for t in range(1, N):
        begin = 0
        while begin + max_length <= t:
            begin += stride
        logits = model(input_ids[:, begin:t]).logits[0, -1].double()  # predicts token t
        total -= torch.log_softmax(logits, dim=-1)[input_ids[0, t]].item()
    return math.exp(total / (N - 1))


@torch.no_grad()
def _sw_case(sub: str, seed: int, N: int, max_length: int, stride: int, visible: bool, kind: str = "hf") -> Case:
    weights = tiny_weights(seed % 3)  # three models, shared by the cases
    model = tiny_model(weights)
    input_ids = torch.randint(0, TINY_GPT2["vocab_size"], (1, N), generator=seeded(1000 + seed))
    if max_length >= N:  # one window: the model's own loss on the whole text
        expected = math.exp(model(input_ids, labels=input_ids).loss.item())
    else:
        expected = _sw_oracle(model, input_ids, max_length, stride)
    what = (
        "a GPT2LMHeadModel"
        if kind == "hf"
        else "a plain function ids (B, T) -> logits (B, T, V) (wrapping a GPT2LMHeadModel)"
    )
    label = f"model = {what}, input_ids (1, {N}), max_length={max_length}, stride={stride}"
    inputs = {"state": weights, "input_ids": input_ids, "max_length": max_length, "stride": stride, "kind": kind}
    return Case(sub, inputs, to_plain(expected), label, visible)


@functools.lru_cache(maxsize=2)
def _sw_cases(hidden: bool) -> list[Case]:
    with one_thread():
        return _sw_case_list(hidden)


def _sw_case_list(hidden: bool) -> list[Case]:
    cases = [
        _sw_case("single", 0, 12, 16, 8, True),
        _sw_case("single", 1, 10, 10, 4, True),
        _sw_case("windows", 2, 41, 8, 4, True),
        _sw_case("windows", 3, 30, 16, 5, True),
        _sw_case("any_model", 4, 20, 8, 3, True, "function"),
    ]
    if hidden:
        cases += [
            _sw_case("single", 10, 2, 4, 2, False),
            _sw_case("single", 11, 30, 64, 10, False),
            _sw_case("windows", 12, 25, 6, 5, False),  # stride = max_length - 1: one token of context
            _sw_case("windows", 13, 12, 3, 1, False),
            _sw_case("windows", 14, 50, 10, 3, False),
            _sw_case("windows", 15, 33, 16, 8, False),
            _sw_case("windows", 16, 17, 16, 2, False),  # two windows, the second scores one token
            _sw_case("any_model", 17, 15, 15, 5, False, "function"),
            _sw_case("any_model", 18, 26, 9, 4, False, "function"),
        ]
    return cases


def _sw_compare(case: Case, got: Any, expected: Any) -> None:
    if case.subcheck == "single":  # the requirement that says "returns a Python float"
        _python_float(got, expected, what="sliding-window perplexity", context=case.label)
    _number(got, expected, what="sliding-window perplexity", context=case.label, atol=1e-6, rtol=1e-4)


SLIDING_WINDOW = Exercise(
    name="sliding_window_perplexity",
    cell="sliding_window",
    test_cell="sliding_window_tests",
    points=3,
    subchecks=(
        SubCheck(
            "single",
            0.5,
            "returns a Python float (not a tensor); a text that fits in max_length: exp of the mean NLL "
            "of tokens 1..N-1, as the model's own loss",
        ),
        SubCheck(
            "windows",
            2.0,
            "windows of max_length tokens every stride tokens; each token after the first scored once, "
            "in the first window that reaches it; the mean over all N-1 tokens",
        ),
        SubCheck("any_model", 0.5, "model may be anything logits_fn accepts (here a plain function ids -> logits)"),
    ),
    cases=_sw_cases,
    run=RUNNERS["sliding_window"],
    compare=_sw_compare,
    forbidden=Forbidden(python=tuple(f"{METRICS}:{name}" for name in _METRICS_FUNCTIONS), names=REFERENCE_NAMES),
    mistakes=mistakes(SLIDING_WINDOW_MISTAKES),
)


# ======================================================================================
# exercise 3: bleu
# ======================================================================================

_TOKENIZE_13A = r"""import math
import re
from collections import Counter


def tokenize_13a(line):
    line = line.rstrip()
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = " " + line + " "
    line = re.sub(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 ", line)
    line = re.sub(r"([^0-9])([\.,])", r"\1 \2 ", line)
    line = re.sub(r"([\.,])([^0-9])", r" \1 \2", line)
    line = re.sub(r"([0-9])(-)", r"\1 \2 ", line)
    return line.split()
"""

_BLEU = (
    _TOKENIZE_13A
    + """

def ngram_counts(tokens, n):
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(hypotheses, references):
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError("need one list of references per hypothesis, and at least one hypothesis")
    matches, totals = [0] * 4, [0] * 4
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references):
        h = tokenize_13a(hyp)
        rs = [tokenize_13a(r) for r in refs]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]  # closest, then shortest
        for n in range(1, 5):
            counts = ngram_counts(h, n)
            max_ref = Counter()
            for r in rs:
                for gram, c in ngram_counts(r, n).items():
                    max_ref[gram] = max(max_ref[gram], c)
            totals[n - 1] += sum(counts.values())
            matches[n - 1] += sum(min(c, max_ref[gram]) for gram, c in counts.items())
    if sum(matches) == 0:
        return 0.0
    precisions = []
    k = 1
    for n in range(4):
        if totals[n] == 0:
            return 0.0
        if matches[n] == 0:
            k *= 2
            precisions.append(1 / (k * totals[n]))
        else:
            precisions.append(matches[n] / totals[n])
    bp = 1.0
    if hyp_len < ref_len:
        bp = math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0
    return 100 * bp * math.exp(sum(math.log(p) for p in precisions) / 4)
"""
)

BLEU_MISTAKES = [
    (
        "no_count_check",
        "your BLEU does not raise ValueError when the numbers of hypotheses and of reference lists differ (or there "
        "are "
        "none): zip stops silently at the shorter list, as sacrebleu does, and the score is computed on part of the "
        "corpus",
        variant(
            _BLEU,
            (
                "    if len(hypotheses) != len(references) or not hypotheses:\n"
                '        raise ValueError("need one list of references per hypothesis, and at least one hypothesis")\n',
                "",
            ),
        ),
    ),
    (
        "no_brevity_penalty",
        "your BLEU has no brevity penalty: a short hypothesis must be penalised by exp(1 - r/c)",
        variant(_BLEU, ("    return 100 * bp * math.exp(", "    return 100 * math.exp(")),
    ),
    (
        "no_clipping",
        "your BLEU does not clip the n-gram counts: a hypothesis n-gram matches at most as often as it occurs in a "
        "reference",
        variant(
            _BLEU,
            (
                "matches[n - 1] += sum(min(c, max_ref[gram]) for gram, c in counts.items())",
                "matches[n - 1] += sum(c for gram, c in counts.items() if gram in max_ref)",
            ),
        ),
    ),
    (
        "arithmetic_mean",
        "your BLEU takes the arithmetic mean of the n-gram precisions: BLEU uses their geometric mean "
        "(exp of the mean of their logs)",
        variant(
            _BLEU,
            (
                "return 100 * bp * math.exp(sum(math.log(p) for p in precisions) / 4)",
                "return 100 * bp * sum(precisions) / 4",
            ),
        ),
    ),
    (
        "no_smoothing",
        "your BLEU gives 0 as soon as one n-gram order has no match: sacrebleu's default smoothing ('exp') "
        "uses 1/(2^k * total) for the k-th such order",
        variant(
            _BLEU,
            ("            k *= 2\n            precisions.append(1 / (k * totals[n]))\n", "            return 0.0\n"),
        ),
    ),
    (
        "whitespace_tokenization",
        "your BLEU splits on whitespace: sacrebleu's 13a tokenizer splits off punctuation ('mat.' -> 'mat', '.')",
        variant(
            _BLEU,
            (
                "        h = tokenize_13a(hyp)\n        rs = [tokenize_13a(r) for r in refs]\n",
                "        h = hyp.split()\n        rs = [r.split() for r in refs]\n",
            ),
        ),
    ),
    (
        "mean_of_sentence_bleu",
        "your BLEU averages sentence-level scores: corpus BLEU sums the n-gram counts and lengths over all "
        "sentences before dividing",
        variant(
            _BLEU,
            ("def bleu(hypotheses, references):", "def sentence_bleu(hypotheses, references):"),
        )
        + """

def bleu(hypotheses, references):
    scores = [sentence_bleu([h], [refs]) for h, refs in zip(hypotheses, references)]
    return sum(scores) / len(scores)
""",
    ),
    (
        "first_reference_length",
        "your BLEU's brevity penalty uses the first reference's length: it must use the reference length "
        "closest to the hypothesis's (the shorter one on a tie)",
        variant(
            _BLEU,
            (
                "ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]  # closest, then shortest",
                "ref_len += len(rs[0])",
            ),
        ),
    ),
    (
        "tie_longer_reference",
        "your brevity penalty takes the longer reference when two are equally close to the hypothesis's length: "
        "sacrebleu takes the shorter one on a tie",
        variant(
            _BLEU,
            (
                "ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]  # closest, then shortest",
                "ref_len += -min((abs(len(r) - len(h)), -len(r)) for r in rs)[1]  # closest, then longest",
            ),
        ),
    ),
    (
        "clip_by_sum_of_references",
        "your BLEU clips a hypothesis n-gram by its count summed over the references: it is clipped by the largest "
        "count in any one reference",
        variant(_BLEU, ("max_ref[gram] = max(max_ref[gram], c)", "max_ref[gram] += c")),
    ),
    (
        "clip_by_first_reference",
        "your BLEU clips the n-gram counts by the first reference only: the clip is the largest count in any reference",
        variant(
            _BLEU,
            (
                "            for r in rs:\n                for gram, c in ngram_counts(r, n).items():",
                "            for r in rs[:1]:\n                for gram, c in ngram_counts(r, n).items():",
            ),
        ),
    ),
    (
        "shortest_reference_length",
        "your brevity penalty uses the shortest reference's length: it uses the reference length closest to the "
        "hypothesis's (the shorter one on a tie)",
        variant(
            _BLEU,
            (
                "ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]  # closest, then shortest",
                "ref_len += min(len(r) for r in rs)",
            ),
        ),
    ),
    (
        "penalty_when_longer",
        "your brevity penalty also applies when the hypothesis is longer than the reference (exp(1 - r/c) > 1 then): "
        "it is 1 unless the hypothesis is shorter",
        variant(_BLEU, ("    if hyp_len < ref_len:\n", "    if hyp_len > 0:\n")),
    ),
    (
        "fraction_not_percent",
        "your BLEU is between 0 and 1: sacrebleu's score is a percentage, between 0 and 100",
        variant(_BLEU, ("    return 100 * bp * math.exp(", "    return bp * math.exp(")),
    ),
    (
        "orders_up_to_3",
        "your BLEU uses the n-gram orders 1 to 3: BLEU's geometric mean is over n = 1, 2, 3 and 4",
        variant(
            _BLEU,
            ("    for n in range(4):\n", "    for n in range(3):\n"),
            ("for p in precisions) / 4)", "for p in precisions) / 3)"),
        ),
    ),
    (
        "smoothing_k_not_doubled",
        "your smoothing gives every order without a match 1/(2 * total): sacrebleu's 'exp' smoothing doubles the "
        "divisor for each such order in turn, 1/(2^k * total) for the k-th",
        variant(
            _BLEU,
            (
                "            k *= 2\n            precisions.append(1 / (k * totals[n]))\n",
                "            precisions.append(1 / (2 * totals[n]))\n",
            ),
        ),
    ),
    (
        "missing_orders_skipped",
        "your BLEU leaves out the n-gram orders the hypothesis is too short to have: with no 4-gram at all the score "
        "is 0, as sacrebleu gives",
        variant(
            _BLEU,
            (
                "        if totals[n] == 0:\n            return 0.0\n",
                "        if totals[n] == 0:\n            continue\n",
            ),
            ("for p in precisions) / 4)", "for p in precisions) / len(precisions))"),
        ),
    ),
    (
        "empty_corpus_scored",
        "your BLEU checks that the numbers of hypotheses and of reference lists agree but not that there is at least "
        "one hypothesis: an empty corpus raises ValueError too",
        variant(
            _BLEU,
            (
                "    if len(hypotheses) != len(references) or not hypotheses:\n",
                "    if len(hypotheses) != len(references):\n",
            ),
        ),
    ),
]


def _bleu_oracle(hypotheses: list[str], references: list[list[str]]) -> sacrebleu.metrics.bleu.BLEUScore:
    """sacrebleu with its defaults. It takes one *stream* per reference set (the transpose of
    ``references``); a hypothesis with fewer references gets None in the streams it lacks."""
    k = max(len(refs) for refs in references)
    streams: list[list[Any]] = [[refs[j] if j < len(refs) else None for refs in references] for j in range(k)]
    return sacrebleu.corpus_bleu(hypotheses, streams)


def _bleu_case(sub: str, hypotheses: list[str], references: list[list[str]], visible: bool, label: str = "") -> Case:
    label = label or f"hypotheses={_short(hypotheses)}, references={_short(references)}"
    if sub == "errors":
        return Case(sub, (hypotheses, references, True), to_plain(_RAISED), label, visible)
    return Case(
        sub, (hypotheses, references, False), to_plain(_bleu_oracle(hypotheses, references).score), label, visible
    )


_BLEU_WORDS = (
    "the",
    "The",
    "cat",
    "dog",
    "sat",
    "on",
    "mat.",
    "a",
    "red",
    "ran",
    "in",
    "park",
    "today",
    "3.50",
    "$3.50,",
    "1,000",
    "don't",
    "(yes)",
    "U.S.",
    "well,",
    "end.",
    "!",
    "is",
    "big",
)


def _bleu_random(rng: random.Random, n_hypotheses: int, max_refs: int) -> tuple[list[str], list[list[str]]]:
    """Random references, and hypotheses made from one of them by random edits (so most n-grams match)."""
    hypotheses, references = [], []
    for _ in range(n_hypotheses):
        refs = [[rng.choice(_BLEU_WORDS) for _ in range(rng.randint(4, 12))] for _ in range(rng.randint(1, max_refs))]
        hyp = []
        for word in rng.choice(refs):
            action = rng.random()
            if action < 0.12:
                continue  # dropped
            hyp.append(rng.choice(_BLEU_WORDS) if action < 0.25 else word)
            if action > 0.93:
                hyp.append(word)  # repeated
        hypotheses.append(" ".join(hyp))
        references.append([" ".join(r) for r in refs])
    return hypotheses, references


def _bleu_subcheck(hypotheses: list[str], references: list[list[str]]) -> str:
    """Which requirement a random corpus exercises: "corpus" when it has several hypotheses or
    references (as the visible corpus cases, whatever else it needs); one hypothesis with one
    reference is "smoothing" when an n-gram order has no match, else "sentence"."""
    if len(hypotheses) > 1 or any(len(r) > 1 for r in references):
        return "corpus"
    stats = _bleu_oracle(hypotheses, references)
    return "smoothing" if any(c == 0 for c in stats.counts) else "sentence"


@functools.lru_cache(maxsize=2)
def _bleu_cases(hidden: bool) -> list[Case]:
    cases = [
        _bleu_case("sentence", ["The cat sat on the mat."], [["The cat is sitting on the mat."]], True),
        _bleu_case("sentence", ["the the the cat sat on the mat"], [["the cat sat on the mat"]], True),
        _bleu_case("smoothing", ["the cat is on a mat"], [["the cat sat on the mat"]], True),
        _bleu_case("smoothing", ["a dog barked loudly"], [["the cat sat on the mat"]], True),
        _bleu_case("smoothing", ["the cat"], [["the cat"]], True),
        _bleu_case(
            "corpus",
            ["It costs $3.50, right?", "A dog ran."],
            [["It costs $3.50, doesn't it?"], ["A dog ran in the park today.", "The dog ran."]],
            True,
        ),
        _bleu_case(
            "corpus",
            ["a cat sat on the red mat today", "the dog"],
            [["the cat sat on a mat", "a cat is on the mat"], ["the dog barked"]],
            True,
        ),
        _bleu_case(
            "corpus",
            ["the the the the cat sat on a mat", "a dog ran"],
            [["a cat sat on the mat", "the cat sat on the mat"], ["a dog ran in the park"]],
            True,
        ),
        _bleu_case("corpus", ["the cat sat on the mat"], [["the cat sat on the red mat", "the cat"]], True),
        # two references equally close (4 and 6 tokens for 5): the shorter one's length counts
        _bleu_case("corpus", ["the cat sat on mat"], [["the cat sat on", "a cat sat on the mat"]], True),
        _bleu_case("errors", ["the cat sat", "a dog ran"], [["the cat sat"]], True),
        _bleu_case("errors", [], [], True, "hypotheses=[], references=[]"),
    ]
    if hidden:
        rng = random.Random(4)
        for n_hypotheses, max_refs in [(1, 1), (1, 1), (1, 3), (3, 1), (5, 3), (8, 2), (12, 4)]:
            hypotheses, references = _bleu_random(rng, n_hypotheses, max_refs)
            cases.append(_bleu_case(_bleu_subcheck(hypotheses, references), hypotheses, references, False))
        cases += [
            _bleu_case("smoothing", ["the big red dog ran in the park"], [["a big red dog is in a park"]], False),
            _bleu_case("smoothing", ["well the end"], [["the end"]], False),
            _bleu_case("smoothing", [""], [["the cat sat on the mat"]], False),
            _bleu_case("errors", ["the cat"], [["the cat"], ["a cat"]], False),
            _bleu_case("errors", ["x y z w"] * 3, [["x y z w"]] * 2, False),
        ]
    return cases


def _bleu_compare(case: Case, got: Any, expected: Any) -> None:
    raised = to_plain(_RAISED)
    if expected == raised:
        if got != raised:
            value = float_of(got)
            shown = f"{value:.6g}" if value is not None else kind_of(got)
            raise GradingError(
                f"bleu for {case.label}: expected ValueError (one list of references per hypothesis, "
                f"at least one hypothesis), got {shown}"
            )
        return
    if got == raised:
        raise GradingError(f"bleu for {case.label}: raised ValueError where a score was expected")
    _number(got, expected, what="BLEU", context=case.label, atol=1e-9, rtol=1e-6)


BLEU = Exercise(
    name="bleu",
    cell="bleu",
    test_cell="bleu_tests",
    points=3,
    subchecks=(
        SubCheck(
            "sentence",
            1.0,
            "one hypothesis, one reference: sacrebleu's score (13a tokens, clipped n-gram precisions "
            "for n = 1..4, their geometric mean, the brevity penalty), between 0 and 100",
        ),
        SubCheck(
            "smoothing",
            0.5,
            "an n-gram order without a match uses sacrebleu's 'exp' smoothing; no match at all, "
            "or no 4-gram at all, gives 0",
        ),
        SubCheck(
            "corpus",
            1.0,
            "several hypotheses with one or more references each: counts and lengths summed over the "
            "corpus, clipping by the largest count in any reference, the closest reference length (the shorter one "
            "on a tie)",
        ),
        SubCheck(
            "errors", 0.5, "ValueError when the numbers of hypotheses and of reference lists differ, or there are none"
        ),
    ),
    cases=_bleu_cases,
    run=RUNNERS["bleu"],
    compare=_bleu_compare,
    forbidden=Forbidden(
        python=(
            f"{TEXT_METRICS}:bleu",
            f"{TEXT_METRICS}:tokenize_13a",
            "sacrebleu:corpus_bleu",
            "sacrebleu:sentence_bleu",
            "sacrebleu.metrics.bleu:BLEU",
            "sacrebleu.tokenizers.tokenizer_13a:Tokenizer13a",
        ),
        names=REFERENCE_NAMES + SACREBLEU_NAMES + NLTK_NAMES,
    ),
    mistakes=mistakes(BLEU_MISTAKES),
)


# ======================================================================================
# exercises 4 and 5: rouge_n and rouge_l
# ======================================================================================

_ROUGE_N = """import re
from collections import Counter


def tokenize(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def rouge_n(prediction, reference, n):
    pred, ref = tokenize(prediction), tokenize(reference)
    pred_ngrams = Counter(tuple(pred[i : i + n]) for i in range(len(pred) - n + 1))
    ref_ngrams = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
    overlap = sum((pred_ngrams & ref_ngrams).values())
    precision = overlap / max(sum(pred_ngrams.values()), 1)
    recall = overlap / max(sum(ref_ngrams.values()), 1)
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f
"""

ROUGE_N_MISTAKES = [
    (
        "no_lowercasing",
        "your ROUGE-N does not lower-case the texts: rouge-score matches 'The' with 'the'",
        variant(
            _ROUGE_N, ('return re.findall(r"[a-z0-9]+", text.lower())', 'return re.findall(r"[A-Za-z0-9]+", text)')
        ),
    ),
    (
        "set_overlap",
        "your ROUGE-N counts distinct n-grams (a set): an n-gram that occurs twice in both texts matches twice",
        variant(
            _ROUGE_N,
            ("overlap = sum((pred_ngrams & ref_ngrams).values())", "overlap = len(set(pred_ngrams) & set(ref_ngrams))"),
        ),
    ),
    (
        "precision_recall_swapped",
        "your ROUGE-N swaps precision and recall: precision divides by the prediction's n-grams, recall by the "
        "reference's",
        variant(_ROUGE_N, ("    return precision, recall, f\n", "    return recall, precision, f\n")),
    ),
    (
        "f_arithmetic_mean",
        "your ROUGE-N's f-measure is the arithmetic mean of precision and recall: it is their harmonic mean 2PR/(P+R)",
        variant(
            _ROUGE_N,
            (
                "f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)",
                "f = (precision + recall) / 2",
            ),
        ),
    ),
    (
        "whitespace_tokens",
        "your ROUGE-N splits on whitespace only: rouge-score drops punctuation ('mat.' is the token 'mat')",
        variant(_ROUGE_N, ('return re.findall(r"[a-z0-9]+", text.lower())', "return text.lower().split()")),
    ),
    (
        "f_zero_division",
        "your ROUGE-N's f-measure divides by precision + recall even when both are 0: with no shared n-gram, F1 is 0.0",
        variant(
            _ROUGE_N,
            (
                "f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)",
                "f = 2 * precision * recall / (precision + recall)",
            ),
        ),
    ),
    (
        "ngrams_short_by_one",
        "your n-grams stop one short: a text of L tokens has L - n + 1 n-grams (range(len(tokens) - n + 1))",
        variant(
            _ROUGE_N,
            (
                "pred_ngrams = Counter(tuple(pred[i : i + n]) for i in range(len(pred) - n + 1))",
                "pred_ngrams = Counter(tuple(pred[i : i + n]) for i in range(len(pred) - n))",
            ),
            (
                "ref_ngrams = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))",
                "ref_ngrams = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n))",
            ),
        ),
    ),
    (
        "unigrams_only",
        "your ROUGE-N counts single words whatever n is: ROUGE-2 counts the pairs of consecutive words, ROUGE-n the "
        "n-grams",
        variant(
            _ROUGE_N,
            ("def rouge_n(prediction, reference, n):\n", "def rouge_n(prediction, reference, n):\n    n = 1\n"),
        ),
    ),
    (
        "no_empty_guard",
        "your ROUGE-N divides by the number of n-grams even when a text has none: then precision, recall and F1 are "
        "0.0",
        variant(
            _ROUGE_N,
            (
                "precision = overlap / max(sum(pred_ngrams.values()), 1)",
                "precision = overlap / sum(pred_ngrams.values())",
            ),
            ("recall = overlap / max(sum(ref_ngrams.values()), 1)", "recall = overlap / sum(ref_ngrams.values())"),
        ),
    ),
    (
        "unclipped_overlap",
        "your ROUGE-N counts every prediction n-gram that occurs in the reference, as often as the prediction has it: "
        "a shared n-gram counts min(count in prediction, count in reference) times",
        variant(
            _ROUGE_N,
            (
                "overlap = sum((pred_ngrams & ref_ngrams).values())",
                "overlap = sum(c for g, c in pred_ngrams.items() if g in ref_ngrams)",
            ),
        ),
    ),
    (
        "unicode_words",
        "your ROUGE-N keeps non-ASCII letters in words (\\w+): rouge-score's tokens are runs of ASCII letters and "
        "digits, so 'café' is the token 'caf'",
        variant(
            _ROUGE_N, ('return re.findall(r"[a-z0-9]+", text.lower())', 'return re.findall(r"[^\\W_]+", text.lower())')
        ),
    ),
    (
        "f_missing_factor_2",
        "your ROUGE-N's f-measure is P * R / (P + R): the harmonic mean is 2 P R / (P + R)",
        variant(
            _ROUGE_N,
            ("else 2 * precision * recall / (precision + recall)", "else precision * recall / (precision + recall)"),
        ),
    ),
]

_ROUGE_L = """import re


def tokenize(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def rouge_l(prediction, reference):
    pred, ref = tokenize(prediction), tokenize(reference)
    if not pred or not ref:
        return 0.0, 0.0, 0.0
    length = lcs(pred, ref)
    precision, recall = length / len(pred), length / len(ref)
    f = 0.0 if length == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f
"""

ROUGE_L_MISTAKES = [
    (
        "no_lowercasing",
        "your ROUGE-L does not lower-case the texts: rouge-score matches 'The' with 'the'",
        variant(
            _ROUGE_L, ('return re.findall(r"[a-z0-9]+", text.lower())', 'return re.findall(r"[A-Za-z0-9]+", text)')
        ),
    ),
    (
        "lcs_on_characters",
        "your ROUGE-L computes the longest common subsequence of characters: ROUGE-L works on words",
        variant(
            _ROUGE_L,
            (
                "    pred, ref = tokenize(prediction), tokenize(reference)\n",
                '    pred, ref = "".join(tokenize(prediction)), "".join(tokenize(reference))\n',
            ),
        ),
    ),
    (
        "precision_recall_swapped",
        "your ROUGE-L swaps precision and recall: precision divides the LCS by the prediction's length, recall by "
        "the reference's",
        variant(
            _ROUGE_L,
            (
                "precision, recall = length / len(pred), length / len(ref)",
                "precision, recall = length / len(ref), length / len(pred)",
            ),
        ),
    ),
    (
        "f_arithmetic_mean",
        "your ROUGE-L's f-measure is the arithmetic mean of precision and recall: it is their harmonic mean 2PR/(P+R)",
        variant(
            _ROUGE_L,
            (
                "f = 0.0 if length == 0 else 2 * precision * recall / (precision + recall)",
                "f = (precision + recall) / 2",
            ),
        ),
    ),
    (
        "longest_common_substring",
        "your ROUGE-L uses the longest common *substring* (contiguous words): a subsequence may skip words",
        variant(
            _ROUGE_L,
            (
                "                table[i][j] = max(table[i - 1][j], table[i][j - 1])\n    return table[-1][-1]",
                "                table[i][j] = 0\n    return max(max(row) for row in table)",
            ),
        ),
    ),
    (
        "f_zero_division",
        "your ROUGE-L's f-measure divides by precision + recall even when both are 0: with no shared word, F1 is 0.0",
        variant(
            _ROUGE_L,
            (
                "f = 0.0 if length == 0 else 2 * precision * recall / (precision + recall)",
                "f = 2 * precision * recall / (precision + recall)",
            ),
        ),
    ),
    (
        "no_empty_guard",
        "your ROUGE-L divides by a text's length even when it has no word: then precision, recall and F1 are 0.0",
        variant(_ROUGE_L, ("    if not pred or not ref:\n        return 0.0, 0.0, 0.0\n", "")),
    ),
    (
        "greedy_matching",
        "your ROUGE-L matches words greedily (each prediction word with the next occurrence in the reference): the "
        "longest "
        "common subsequence needs the dynamic programme, a greedy match can miss it",
        variant(
            _ROUGE_L,
            (
                "    length = lcs(pred, ref)\n",
                """    length, j = 0, 0
    for word in pred:
        if word in ref[j:]:
            j += ref[j:].index(word) + 1
            length += 1
""",
            ),
        ),
    ),
    (
        "common_words",
        "your ROUGE-L counts the words the two texts share, in any order: the longest common subsequence keeps the "
        "order",
        variant(
            _ROUGE_L,
            ("    length = lcs(pred, ref)\n", "    length = sum((Counter(pred) & Counter(ref)).values())\n"),
            ("import re\n", "import re\nfrom collections import Counter\n"),
        ),
    ),
    (
        "unicode_words",
        "your ROUGE-L keeps non-ASCII letters in words (\\w+): rouge-score's tokens are runs of ASCII letters and "
        "digits, so 'café' is the token 'caf'",
        variant(
            _ROUGE_L, ('return re.findall(r"[a-z0-9]+", text.lower())', 'return re.findall(r"[^\\W_]+", text.lower())')
        ),
    ),
    (
        "f_missing_factor_2",
        "your ROUGE-L's f-measure is P * R / (P + R): the harmonic mean is 2 P R / (P + R)",
        variant(
            _ROUGE_L,
            ("else 2 * precision * recall / (precision + recall)", "else precision * recall / (precision + recall)"),
        ),
    ),
    (
        "over_longer_length",
        "your ROUGE-L divides the LCS by the longer text's length for both: precision is over the prediction's "
        "length, recall over the reference's",
        variant(
            _ROUGE_L,
            (
                "precision, recall = length / len(pred), length / len(ref)",
                "precision = recall = length / max(len(pred), len(ref))",
            ),
        ),
    ),
]


_SCORERS: dict[str, rouge_scorer.RougeScorer] = {}


def _rouge_oracle(prediction: str, reference: str, kind: str) -> tuple[float, float, float]:
    """rouge-score without stemming; note that it takes the reference first."""
    if kind not in _SCORERS:
        _SCORERS[kind] = rouge_scorer.RougeScorer([kind], use_stemmer=False)
    score = _SCORERS[kind].score(reference, prediction)[kind]
    return float(score.precision), float(score.recall), float(score.fmeasure)


_ROUGE_WORDS = (
    "the",
    "The",
    "THE",
    "cat",
    "Cat",
    "sat",
    "on",
    "mat",
    "mat.",
    "a",
    "dog",
    "ran",
    "café",
    "Naïve",
    "3",
    "x-y",
    "don't",
    "!",
    "big",
    "red",
    "was",
    "under",
    "bed,",
)


# Plain words (lower-case ASCII, no punctuation): rouge-score's tokens are the words themselves, so
# the cases made of them judge the counting, not the tokenizer (the "tokens" requirement's).
_ROUGE_PLAIN = ("the", "cat", "sat", "on", "mat", "a", "dog", "ran", "3", "big", "red", "was", "under", "bed")


def _rouge_random(rng: random.Random, n_words: int, words: tuple[str, ...] = _ROUGE_WORDS) -> tuple[str, str]:
    """A reference, and a prediction that shares some of its words (reordered, dropped, replaced)."""
    reference = [rng.choice(words) for _ in range(n_words)]
    prediction = [w if rng.random() < 0.6 else rng.choice(words) for w in reference if rng.random() < 0.85]
    if rng.random() < 0.5 and len(prediction) > 2:
        i = rng.randrange(len(prediction) - 1)
        prediction[i], prediction[i + 1] = prediction[i + 1], prediction[i]
    return " ".join(prediction), " ".join(reference)


def _rouge_restyled(rng: random.Random, n_words: int) -> tuple[str, str]:
    """A reference of plain words, and a prediction of the same words written otherwise (capitals,
    punctuation, quotes): with rouge-score's tokens the two are the same sequence, so these cases
    judge the tokens, not the formula (the visible "tokens" cases are of this kind)."""
    words = [rng.choice(_ROUGE_PLAIN + ("café", "naïve")) for _ in range(n_words)]
    styles = (str, str.capitalize, str.upper, "{},".format, "{}.".format, "'{}'".format, "({})".format, "{}!".format)
    return " ".join(rng.choice(styles)(w) for w in words), " ".join(words)


def _rouge_case(sub: str, prediction: str, reference: str, n: int | None, visible: bool) -> Case:
    kind = "rougeL" if n is None else f"rouge{n}"
    label = f"prediction={prediction!r}, reference={reference!r}" + (f", n={n}" if n is not None else "")
    return Case(sub, (prediction, reference, n), to_plain(_rouge_oracle(prediction, reference, kind)), label, visible)


@functools.lru_cache(maxsize=2)
def _rouge_n_cases(hidden: bool) -> list[Case]:
    cases = [
        _rouge_case("counts", "the cat sat on the mat", "the cat was on the mat", 1, True),
        _rouge_case("counts", "the cat sat on the mat", "the cat was on the mat", 2, True),
        _rouge_case("counts", "the the cat the", "the cat sat the the", 1, True),
        _rouge_case("counts", "the the the cat", "the cat sat on the mat", 1, True),
        _rouge_case("counts", "a dog ran", "the cat sat", 1, True),
        _rouge_case("tokens", "The Cat sat, on the MAT.", "the cat was on the mat!", 1, True),
        _rouge_case("tokens", "Naïve café, open!", "the café is open", 1, True),
        _rouge_case("empty", "", "the cat sat", 1, True),
        _rouge_case("empty", "the cat", "cat", 2, True),
    ]
    if hidden:
        rng = random.Random(5)
        for n, n_words in [(1, 6), (1, 15), (2, 8), (3, 12), (4, 30), (2, 3)]:
            prediction, reference = _rouge_random(rng, n_words, _ROUGE_PLAIN)
            cases.append(_rouge_case("counts", prediction, reference, n, False))
        for n, n_words in [(1, 8), (2, 20), (3, 25), (1, 3)]:
            prediction, reference = _rouge_restyled(rng, n_words)
            cases.append(_rouge_case("tokens", prediction, reference, n, False))
        cases += [
            _rouge_case("counts", "a b c d", "a b c d e f g h", 2, False),
            _rouge_case("counts", "cat the sat on mat", "the cat sat on the mat", 3, False),
            _rouge_case("empty", "the cat sat", "", 1, False),
            _rouge_case("empty", "!!! ...", "the cat", 1, False),
            _rouge_case("empty", "the cat sat", "the cat sat", 4, False),
        ]
    return cases


@functools.lru_cache(maxsize=2)
def _rouge_l_cases(hidden: bool) -> list[Case]:
    cases = [
        _rouge_case("lcs", "cat the sat on mat", "the cat sat on the mat", None, True),
        _rouge_case("lcs", "the cat was found under the bed", "the cat was under the bed", None, True),
        _rouge_case("lcs", "a cat", "the dog", None, True),  # no word in common: an LCS of 0
        _rouge_case("tokens", "The Cat sat, on the MAT.", "the cat was on the mat!", None, True),
        _rouge_case("tokens", "Naïve café, open!", "the café is open", None, True),
        _rouge_case("empty", "", "the cat sat", None, True),
        _rouge_case("empty", "the cat", "...", None, True),
    ]
    if hidden:
        rng = random.Random(6)
        for n_words in [5, 14, 30]:
            prediction, reference = _rouge_random(rng, n_words, _ROUGE_PLAIN)
            cases.append(_rouge_case("lcs", prediction, reference, None, False))
        for n_words in [9, 20, 2]:
            prediction, reference = _rouge_restyled(rng, n_words)
            cases.append(_rouge_case("tokens", prediction, reference, None, False))
        cases += [
            _rouge_case("lcs", "a b c d", "d c b a", None, False),
            _rouge_case("lcs", "police killed the gunman", "the gunman police killed", None, False),
        ]
    return cases


def _rouge_compare(name: str):
    def compare(case: Case, got: Any, expected: Any) -> None:
        got_items = items_of(got, f"{name}(prediction, reference{', n' if name == 'rouge_n' else ''})", 3)
        try:
            expected_items = items_of(expected, name, 3)
        except GradingError:
            raise GradingError(f"{name} for {case.label}: the result to compare with is {kind_of(expected)}") from None
        if case.subcheck == "tokens":
            _tokens_compare(name, case, got_items, expected_items)
            return
        for what, g, e in zip(("precision", "recall", "fmeasure"), got_items, expected_items):
            _number(g, e, what=f"{name} {what}", context=case.label, atol=1e-9, rtol=1e-6)

    return compare


def _tokens_compare(name: str, case: Case, got_items: list, expected_items: list) -> None:
    """The "tokens" requirement: the tokens decide how many words (n-grams) each text has and how
    many they share, so precision and recall as a pair; which of the two is which, and the
    f-measure, are the formula's requirement ("counts" or "lcs"), judged by its own cases."""
    values = [float_of(g) for g in got_items[:2]]
    if None in values:
        raise GradingError(
            f"{name} for {case.label}: precision and recall must be numbers, got "
            f"{kind_of(got_items[0])} and {kind_of(got_items[1])}"
        )
    wanted = [float_of(e) for e in expected_items[:2]]
    if None in wanted:
        raise GradingError(f"{name} for {case.label}: the result to compare with is not a pair of numbers")
    numbers, wanted_numbers = cast(list[float], values), cast(list[float], wanted)  # no None, checked above
    close = all(abs(g - e) <= 1e-9 + 1e-6 * abs(e) for g, e in zip(sorted(numbers), sorted(wanted_numbers)))
    if not close:
        raise GradingError(
            f"{name} for {case.label}: precision and recall should be {wanted[0]:.6g} and {wanted[1]:.6g} "
            f"(from the words each text has and those they share), got {values[0]:.6g} and {values[1]:.6g}"
        )


_ROUGE_PYTHON = (
    "rouge_score.rouge_scorer:RougeScorer",
    "rouge_score.rouge_scorer:_score_ngrams",
    "rouge_score.rouge_scorer:_score_lcs",
    "rouge_score.rouge_scorer:_create_ngrams",
    "rouge_score.rouge_scorer:_lcs_table",
    "rouge_score.tokenize:tokenize",
    "rouge_score.tokenizers:DefaultTokenizer",
)
_ROUGE_NAMES = REFERENCE_NAMES + ROUGE_SCORE_NAMES + NLTK_NAMES

ROUGE_N = Exercise(
    name="rouge_n",
    cell="rouge_n",
    test_cell="rouge_n_tests",
    points=2,
    subchecks=(
        SubCheck(
            "counts",
            1.0,
            "(precision, recall, fmeasure) of the n-grams the two texts share, counted with repeats "
            "(precision over the prediction's n-grams, recall over the reference's, F1 their harmonic mean, 0.0 when "
            "they share none)",
        ),
        SubCheck(
            "tokens",
            0.5,
            "rouge-score's tokens: lower-cased runs of ASCII letters and digits; everything else separates them "
            "(they decide the counts behind precision and recall)",
        ),
        SubCheck(
            "empty", 0.5, "a text without n-grams (empty, only punctuation, or shorter than n) gives (0.0, 0.0, 0.0)"
        ),
    ),
    cases=_rouge_n_cases,
    run=RUNNERS["rouge_n"],
    compare=_rouge_compare("rouge_n"),
    forbidden=Forbidden(
        python=(f"{TEXT_METRICS}:rouge_n", f"{TEXT_METRICS}:tokenize_rouge", f"{TEXT_METRICS}:ngrams") + _ROUGE_PYTHON,
        names=_ROUGE_NAMES,
    ),
    mistakes=mistakes(ROUGE_N_MISTAKES),
)

ROUGE_L = Exercise(
    name="rouge_l",
    cell="rouge_l",
    test_cell="rouge_l_tests",
    points=2,
    subchecks=(
        SubCheck(
            "lcs",
            1.0,
            "precision and recall are the longest common subsequence of words (gaps allowed, order kept) "
            "over the prediction's and the reference's lengths; F1 their harmonic mean (0.0 when no word is shared)",
        ),
        SubCheck(
            "tokens",
            0.5,
            "rouge-score's tokens: lower-cased runs of ASCII letters and digits; everything else separates them "
            "(they decide the counts behind precision and recall)",
        ),
        SubCheck("empty", 0.5, "a text without words (empty or only punctuation) gives (0.0, 0.0, 0.0)"),
    ),
    cases=_rouge_l_cases,
    run=RUNNERS["rouge_l"],
    compare=_rouge_compare("rouge_l"),
    forbidden=Forbidden(
        python=(f"{TEXT_METRICS}:rouge_l", f"{TEXT_METRICS}:tokenize_rouge", f"{TEXT_METRICS}:lcs_length")
        + _ROUGE_PYTHON,
        names=_ROUGE_NAMES,
    ),
    mistakes=mistakes(ROUGE_L_MISTAKES),
)


# ======================================================================================
# exercises 6 and 7: score_choices and accuracy (multiple choice by log-likelihood)
# ======================================================================================

# A correct answer, the template of the mistakes below (not one of the alternatives).
_SC = """import torch
import torch.nn.functional as F


def score_choices(logits_fn, context_ids, choice_ids):
    n = len(context_ids)
    scores = []
    for choice in choice_ids:
        ids = torch.tensor([context_ids + choice])  # (1, T)
        log_probs = F.log_softmax(logits_fn(ids)[0].float(), dim=-1)  # (T, V)
        targets = ids[0, n:]  # the choice's tokens
        picked = log_probs[n - 1 : -1].gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # position t-1 predicts token t
        scores.append(picked.sum().item())
    return scores
"""

SCORE_CHOICES_MISTAKES = [
    (
        "own_position",
        "your score_choices reads each choice token's log-probability at the token's own position: the logits at "
        "position t predict the token at t + 1, so the choice's tokens n .. T-1 are read at positions n-1 .. T-2",
        variant(_SC, ("log_probs[n - 1 : -1].gather", "log_probs[n:].gather")),
    ),
    (
        "context_included",
        "your score_choices also sums the log-probabilities of the context's tokens: a choice's score counts only "
        "its own tokens (the context is the same for every choice, but its tokens are not the choice's)",
        variant(
            _SC,
            ("targets = ids[0, n:]  # the choice's tokens", "targets = ids[0, 1:]  # every predicted token"),
            ("log_probs[n - 1 : -1].gather", "log_probs[:-1].gather"),
        ),
    ),
    (
        "probabilities_summed",
        "your score_choices adds up probabilities (softmax): a choice's score is the sum of the log-probabilities "
        "(log_softmax) of its tokens",
        variant(
            _SC,
            (
                "log_probs = F.log_softmax(logits_fn(ids)[0].float(), dim=-1)",
                "log_probs = F.softmax(logits_fn(ids)[0].float(), dim=-1)",
            ),
        ),
    ),
    (
        "likelihood_not_log",
        "your score_choices returns the choice's probability (the product of its tokens' probabilities): return its "
        "log, the sum of the tokens' log-probabilities (a product of many probabilities underflows to 0)",
        variant(
            _SC,
            (
                "log_probs = F.log_softmax(logits_fn(ids)[0].float(), dim=-1)",
                "log_probs = F.softmax(logits_fn(ids)[0].float(), dim=-1)",
            ),
            ("scores.append(picked.sum().item())", "scores.append(picked.prod().item())"),
        ),
    ),
    (
        "mean_not_sum",
        "your score_choices averages the log-probabilities of the choice's tokens: the score is their sum, "
        "log P(choice | context); dividing by a length is what acc_norm does afterwards",
        variant(_SC, ("scores.append(picked.sum().item())", "scores.append(picked.mean().item())")),
    ),
    (
        "softmax_over_positions",
        "your log_softmax runs over the positions (dim=0 of the (T, V) logits): each position's distribution is "
        "over the vocabulary, the last dimension",
        variant(
            _SC,
            (
                "log_probs = F.log_softmax(logits_fn(ids)[0].float(), dim=-1)",
                "log_probs = F.log_softmax(logits_fn(ids)[0].float(), dim=0)",
            ),
        ),
    ),
    (
        "first_token_dropped",
        "your score_choices leaves out the choice's first token: it is predicted by the logits at the context's last "
        "position (n - 1), so it counts too",
        variant(
            _SC,
            (
                "picked = log_probs[n - 1 : -1].gather(-1, targets.unsqueeze(-1))",
                "picked = log_probs[n:-1].gather(-1, targets[1:].unsqueeze(-1))",
            ),
        ),
    ),
    (
        "no_teacher_forcing",
        "your score_choices predicts every token of a choice from the context alone: token k of the choice is "
        "predicted after the context and the choice's tokens before k (feed context + choice to the model)",
        """import torch
import torch.nn.functional as F


def score_choices(logits_fn, context_ids, choice_ids):
    log_probs = F.log_softmax(logits_fn(torch.tensor([context_ids]))[0, -1].float(), dim=-1)  # (V,): the next token
    return [sum(log_probs[token].item() for token in choice) for choice in choice_ids]
""",
    ),
    (
        "raw_logits",
        "your score_choices sums the raw logits: turn them into log-probabilities with log_softmax over the "
        "vocabulary first",
        variant(
            _SC,
            ("log_probs = F.log_softmax(logits_fn(ids)[0].float(), dim=-1)", "log_probs = logits_fn(ids)[0].float()"),
        ),
    ),
    (
        "negative_log_likelihood",
        "your score_choices returns the negative log-likelihood (a loss, positive): the score is the log-likelihood "
        "itself, negative, the higher the likelier",
        variant(_SC, ("scores.append(picked.sum().item())", "scores.append(-picked.sum().item())")),
    ),
    (
        "returns_tensor",
        "your score_choices returns a torch.Tensor: it must return a list of Python floats, one per choice "
        "(.tolist(), or .item() on each score)",
        variant(_SC, ("    return scores\n", "    return torch.tensor(scores)\n")),
    ),
    (
        "list_of_tensors",
        "your score_choices returns a list of 0-dim tensors: each score must be a Python float; call .item()",
        variant(_SC, ("scores.append(picked.sum().item())", "scores.append(picked.sum())")),
    ),
    (
        "context_extended_in_place",
        "your score_choices extends the context list itself (ids = context_ids; ids += choice changes "
        "context_ids): every later choice is scored after the earlier choices; build a new list, context_ids + choice",
        variant(
            _SC,
            (
                "        ids = torch.tensor([context_ids + choice])  # (1, T)\n",
                "        tokens = context_ids\n        tokens += choice\n"
                "        ids = torch.tensor([tokens])  # (1, T)\n",
            ),
        ),
    ),
]


def _logits64(model, ids: list[int]) -> torch.Tensor:
    """The float64 logits (T, V) of ``model`` (already in float64) for one row of ids."""
    return model(torch.tensor([ids])).logits[0]


@torch.no_grad()
def _sc_oracle(model64, context: list[int], choice: list[int]) -> float:
    """log P(choice | context): minus the summed cross-entropy of the model's float64 logits with the
    context's labels set to -100 (what a Hugging Face causal LM's loss ignores), shifted by one."""
    ids = context + choice
    labels = torch.tensor(ids)
    labels[: len(context)] = -100
    logits = _logits64(model64, ids)  # (T, V)
    return -F.cross_entropy(logits[:-1], labels[1:], ignore_index=-100, reduction="sum").item()


def _sc_case(sub: str, seed: int, n_context: int, lengths: list[int], visible: bool, shared: int = 0) -> Case:
    """Random context and choices (``shared``: how many first tokens every choice shares) on one of three
    tiny models."""
    weights = tiny_weights(seed % 3)
    model64 = tiny_model(weights).double()
    g = seeded(2000 + seed)
    V = TINY_GPT2["vocab_size"]
    context = torch.randint(0, V, (n_context,), generator=g).tolist()
    prefix = torch.randint(0, V, (shared,), generator=g).tolist()
    choices = [prefix + torch.randint(0, V, (n - shared,), generator=g).tolist() for n in lengths]
    expected = [_sc_oracle(model64, context, choice) for choice in choices]
    label = (
        f"a GPT2LMHeadModel's logits_fn, context_ids of {n_context} tokens, {len(choices)} choices of {lengths} tokens"
    )
    if shared:
        label += f" (each starting with the same {shared} token{'s' if shared > 1 else ''})"
    inputs = {"state": weights, "context": context, "choices": choices}
    return Case(sub, inputs, to_plain(expected), label, visible)


@functools.lru_cache(maxsize=2)
def _sc_cases(hidden: bool) -> list[Case]:
    with one_thread():
        cases = [
            _sc_case("single", 0, 5, [1, 1, 1, 1], True),
            _sc_case("single", 1, 1, [1, 1, 1], True),
            _sc_case("multi", 2, 4, [3, 3, 3], True),
            _sc_case("multi", 3, 6, [2, 4, 1, 3], True, shared=1),
        ]
        if hidden:
            cases += [
                _sc_case("single", 10, 20, [1] * 6, False),
                _sc_case("single", 11, 2, [1, 1], False),
                _sc_case("single", 12, 40, [1] * 10, False),
                _sc_case("multi", 13, 10, [5, 1, 7], False),
                _sc_case("multi", 14, 1, [2, 3, 4, 5], False),
                _sc_case("multi", 15, 30, [10, 12, 8, 3], False, shared=2),
                _sc_case("multi", 16, 3, [20, 20], False),
            ]
    return cases


def _plain_floats(plain: Any) -> bool:
    """Whether ``plain`` is a list or tuple of Python numbers (not tensors)."""
    if not (isinstance(plain, dict) and ("list" in plain or "tuple" in plain)):
        return False
    return all(
        isinstance(v, int) and not isinstance(v, bool) or isinstance(v, dict) and "float" in v
        for v in cast(list, plain.get("list", plain.get("tuple")))
    )


def _numbers_of(plain: Any) -> list[float] | None:
    """The numbers of a plain list/tuple (of numbers or 0-dim tensors) or of a 1-dim tensor, else None."""
    if isinstance(plain, dict) and "tensor" in plain:
        array = values_of(plain)  # a plain tensor: never None
        return [float(v) for v in array] if array.ndim == 1 else None
    if isinstance(plain, dict) and ("list" in plain or "tuple" in plain):
        values = [float_of(v) for v in cast(list, plain.get("list", plain.get("tuple")))]
        return None if None in values else cast(list[float], values)
    return None


def _form(plain: Any) -> str:
    """What kind of scores a plain result holds, in words: a list of Python floats, a tensor, or else."""
    if _plain_floats(plain):
        return "a list of Python floats"
    items = plain.get("list", plain.get("tuple")) if isinstance(plain, dict) else None
    if items:
        return f"a list holding {kind_of(items[0])}"
    return kind_of(plain)


def _sc_compare(case: Case, got: Any, expected: Any) -> None:
    want = _numbers_of(expected)
    if want is None:
        raise GradingError(
            f"score_choices for {case.label}: the result to compare with is {kind_of(expected)}, not scores"
        )
    # the requirement that says "a list of Python floats" (the oracle's result is one; a mistake's may be a tensor)
    if case.subcheck == "single" and _form(got) != _form(expected):
        raise GradingError(
            f"score_choices for {case.label}: expected {_form(expected)} ({len(want)}, one per choice), "
            f"got {_form(got)}" + (": use .item() on each score, or .tolist()" if _plain_floats(expected) else "")
        )
    values = _numbers_of(got)
    if values is None:
        raise GradingError(
            f"score_choices for {case.label}: expected a list of {len(want)} numbers, got {kind_of(got)}"
        )
    if len(values) != len(want):
        raise GradingError(
            f"score_choices for {case.label}: expected {len(want)} scores (one per choice), got {len(values)}"
        )
    for k, (value, wanted) in enumerate(zip(values, want)):
        expect_float(
            to_plain(value),
            wanted,
            what=f"score_choices, the log-likelihood of choice {k}",
            context=case.label,
            atol=1e-4,
            rtol=1e-5,
        )


_CHOICE_FUNCTIONS = (
    "score_choices.__wrapped__",
    "accuracy",
    "encode_choices",
    "option_loglikelihoods",
    "multiple_choice_accuracy",
)
_CHOICE_FORBIDDEN = Forbidden(
    python=tuple(f"{METRICS}:{name}" for name in _CHOICE_FUNCTIONS + _METRICS_FUNCTIONS),
    names=REFERENCE_NAMES + ("lm_eval",),
)

SCORE_CHOICES = Exercise(
    name="score_choices",
    cell="score_choices",
    test_cell="score_choices_tests",
    points=3,
    subchecks=(
        SubCheck(
            "single",
            1.5,
            "returns a list of Python floats, one per choice; a one-token choice scores "
            "log_softmax of the logits at the context's last position, read at the choice's token; the context's "
            "own tokens are not scored",
        ),
        SubCheck(
            "multi",
            1.5,
            "a choice of several tokens scores the sum of their log-probabilities, token k predicted "
            "after the context and the choice's tokens before k (context + choice fed to the model)",
        ),
    ),
    cases=_sc_cases,
    run=RUNNERS["score_choices"],
    compare=_sc_compare,
    forbidden=_CHOICE_FORBIDDEN,
    mistakes=mistakes(SCORE_CHOICES_MISTAKES),
)


_ACC = """def accuracy(items):
    right = {"acc": 0, "acc_norm": 0, "acc_bytes": 0}
    for scores, choices, gold in items:
        chars = [s / len(c) for s, c in zip(scores, choices)]
        utf8 = [s / len(c.encode("utf-8")) for s, c in zip(scores, choices)]
        right["acc"] += scores.index(max(scores)) == gold  # index() finds the first maximum
        right["acc_norm"] += chars.index(max(chars)) == gold
        right["acc_bytes"] += utf8.index(max(utf8)) == gold
    return {key: count / len(items) for key, count in right.items()}
"""

ACCURACY_MISTAKES = [
    (
        "acc_from_normalised",
        "your acc picks the choice with the highest length-normalised score: acc compares the log-likelihoods "
        "themselves; only acc_norm and acc_bytes divide by a length",
        variant(
            _ACC,
            ('right["acc"] += scores.index(max(scores)) == gold', 'right["acc"] += chars.index(max(chars)) == gold'),
        ),
    ),
    (
        "norm_by_bytes",
        "your acc_norm divides by the choice's length in UTF-8 bytes: lm-evaluation-harness's acc_norm divides by "
        "its length in characters, len(text); the bytes are acc_bytes's",
        variant(
            _ACC,
            (
                "chars = [s / len(c) for s, c in zip(scores, choices)]",
                'chars = [s / len(c.encode("utf-8")) for s, c in zip(scores, choices)]',
            ),
        ),
    ),
    (
        "bytes_by_characters",
        "your acc_bytes divides by the choice's length in characters: acc_bytes divides by its length in UTF-8 "
        "bytes, len(text.encode('utf-8')) (a letter such as 'ï' or 'ü' takes two bytes, a Japanese character three)",
        variant(
            _ACC,
            (
                'utf8 = [s / len(c.encode("utf-8")) for s, c in zip(scores, choices)]',
                "utf8 = [s / len(c) for s, c in zip(scores, choices)]",
            ),
        ),
    ),
    (
        "norm_by_words",
        "your acc_norm divides by the number of words of the choice: it divides by its length in characters",
        variant(
            _ACC,
            (
                "chars = [s / len(c) for s, c in zip(scores, choices)]",
                "chars = [s / len(c.split()) for s, c in zip(scores, choices)]",
            ),
        ),
    ),
    (
        "norm_with_space",
        "your acc_norm counts the space put before the choice: the length is the choice's own text, without "
        "the delimiter",
        variant(
            _ACC,
            (
                "chars = [s / len(c) for s, c in zip(scores, choices)]",
                'chars = [s / len(" " + c) for s, c in zip(scores, choices)]',
            ),
        ),
    ),
    (
        "percentages",
        "your accuracy returns percentages: acc, acc_norm and acc_bytes are fractions between 0 and 1",
        variant(
            _ACC,
            (
                "return {key: count / len(items) for key, count in right.items()}",
                "return {key: 100 * count / len(items) for key, count in right.items()}",
            ),
        ),
    ),
    (
        "counts_not_fractions",
        "your accuracy returns the number of items predicted right: divide by the number of items",
        variant(
            _ACC,
            (
                "return {key: count / len(items) for key, count in right.items()}",
                "return {key: float(count) for key, count in right.items()}",
            ),
        ),
    ),
    (
        "last_on_tie",
        "your accuracy picks the last of two equally likely choices: on a tie the first one is the prediction "
        "(as numpy's argmax, and lm-evaluation-harness, pick it)",
        """def last_best(values):
    best = 0
    for k in range(len(values)):
        if values[k] >= values[best]:
            best = k
    return best


def accuracy(items):
    right = {"acc": 0, "acc_norm": 0, "acc_bytes": 0}
    for scores, choices, gold in items:
        chars = [s / len(c) for s, c in zip(scores, choices)]
        utf8 = [s / len(c.encode("utf-8")) for s, c in zip(scores, choices)]
        right["acc"] += last_best(scores) == gold
        right["acc_norm"] += last_best(chars) == gold
        right["acc_bytes"] += last_best(utf8) == gold
    return {key: count / len(items) for key, count in right.items()}
""",
    ),
    (
        "argmin",
        "your accuracy picks the choice with the lowest score: the scores are log-likelihoods (higher is likelier), "
        "not losses; pick the highest",
        variant(
            _ACC,
            ("scores.index(max(scores))", "scores.index(min(scores))"),
            ("chars.index(max(chars))", "chars.index(min(chars))"),
            ("utf8.index(max(utf8))", "utf8.index(min(utf8))"),
        ),
    ),
    (
        "length_over_score",
        "your accuracy divides the length by the log-likelihood: the normalised score is the log-likelihood divided "
        "by the length",
        variant(
            _ACC,
            (
                "chars = [s / len(c) for s, c in zip(scores, choices)]",
                "chars = [len(c) / s for s, c in zip(scores, choices)]",
            ),
            (
                'utf8 = [s / len(c.encode("utf-8")) for s, c in zip(scores, choices)]',
                'utf8 = [len(c.encode("utf-8")) / s for s, c in zip(scores, choices)]',
            ),
        ),
    ),
    (
        "multiplied_by_length",
        "your accuracy multiplies the log-likelihood by the length: normalising divides by it, so that a long choice "
        "is not punished for having more tokens",
        variant(
            _ACC,
            (
                "chars = [s / len(c) for s, c in zip(scores, choices)]",
                "chars = [s * len(c) for s, c in zip(scores, choices)]",
            ),
            (
                'utf8 = [s / len(c.encode("utf-8")) for s, c in zip(scores, choices)]',
                'utf8 = [s * len(c.encode("utf-8")) for s, c in zip(scores, choices)]',
            ),
        ),
    ),
    (
        "bytes_not_normalised",
        "your acc_bytes picks the highest raw log-likelihood: acc_bytes divides each one by the choice's length in "
        "UTF-8 bytes first",
        variant(
            _ACC,
            (
                'right["acc_bytes"] += utf8.index(max(utf8)) == gold',
                'right["acc_bytes"] += scores.index(max(scores)) == gold',
            ),
        ),
    ),
]


def _acc_oracle(items: list[tuple[list[float], list[str], int]]) -> dict[str, float]:
    """lm-evaluation-harness's definitions (``ConfigurableTask.process_results``, multiple_choice, in
    lm-eval 0.4): per item ``np.argmax`` of the log-likelihoods, of them over ``len(choice)`` and over
    ``len(choice.encode("utf-8"))``, right when it is the gold index; each metric the mean over items."""
    per_item: dict[str, list[float]] = {"acc": [], "acc_norm": [], "acc_bytes": []}
    for item_lls, choices, gold in items:
        lls = np.array(item_lls, dtype=np.float64)
        completion_len = np.array([float(len(c)) for c in choices])
        byte_length = np.array([float(len(c.encode("utf-8"))) for c in choices])
        per_item["acc"].append(1.0 if np.argmax(lls) == gold else 0.0)
        per_item["acc_norm"].append(1.0 if np.argmax(lls / completion_len) == gold else 0.0)
        per_item["acc_bytes"].append(1.0 if np.argmax(lls / byte_length) == gold else 0.0)
    return {key: float(np.mean(values)) for key, values in per_item.items()}


_ACC_KEYS = {"acc": "acc", "norm": "acc_norm", "bytes": "acc_bytes"}

# Hand-made items. acc: the first item is right, the second right only after normalising, the third a tie
# that the first choice wins, the fourth wrong. norm: dividing by characters flips the first two items,
# counting the space or the words would not; the second case has non-ASCII letters (bytes would flip it).
# bytes: non-ASCII choices whose bytes and characters disagree, and one the raw score gets wrong.
_ACC_VISIBLE = {
    "acc": [
        [
            ([-3.2, -1.5, -4.0], ["cold", "warm", "hot"], 1),
            ([-2.0, -6.0, -2.5, -9.0], ["red", "a shade of blue", "green", "white"], 1),
            ([-5.0, -5.0, -7.0], ["Tuesday", "Monday", "Sunday"], 0),
            ([-0.5, -8.0], ["yes", "no"], 1),
        ],
        [
            ([-1.0, -3.0, -1.0, -1.0], ["one", "two", "three", "four"], 2),
            ([-4.0, -2.0], ["dog", "cat"], 1),
            ([-2.5, -2.5], ["up", "on"], 0),
        ],
    ],
    "norm": [
        [
            ([-6.0, -4.0], ["a big dog", "cat"], 0),
            ([-2.1, -4.0], ["ab", "abcd"], 1),
            ([-9.0, -5.0], ["to be or not", "question"], 1),
        ],
        [([-5.4, -6.3], ["naïve", "simple"], 1), ([-2.0, -6.0, -2.5], ["red", "a shade of blue", "green"], 1)],
    ],
    "bytes": [
        [
            ([-5.4, -6.3], ["naïve", "simple"], 0),
            ([-5.0, -4.2], ["über", "over"], 0),
            ([-6.0, -5.2], ["日本", "Japan"], 0),
            ([-3.0, -8.0], ["no", "not at all"], 1),
            ([-2.0, -3.3], ["ça", "cela"], 0),
        ],
    ],
}

_ACC_WORDS = (
    "cat",
    "dog",
    "a red fox",
    "the big brown bear",
    "yes",
    "no",
    "café",
    "naïve",
    "über",
    "Zürich",
    "façade",
    "日本",
    "東京の夜",
    "piñata",
    "crème brûlée",
    "Ελλάδα",
    "x",
    "it is raining",
    "Monday",
    "1 + 2 = 3",
)


def _acc_random(rng: random.Random, n_items: int) -> list[tuple[list[float], list[str], int]]:
    """Items whose scores grow with the choice's length (as real log-likelihoods do), so that the three
    metrics often disagree; no ties."""
    items = []
    for _ in range(n_items):
        choices = rng.sample(_ACC_WORDS, rng.randint(2, 5))
        scores = [-len(c.encode("utf-8")) * rng.uniform(0.2, 2.0) for c in choices]
        items.append((scores, choices, rng.randrange(len(choices))))
    return items


def _acc_label(items: list) -> str:
    return f"{len(items)} items: " + _short([list(item) for item in items], 300)


def _acc_case(sub: str, items: list, visible: bool) -> Case:
    items = [(list(scores), list(choices), gold) for scores, choices, gold in items]
    return Case(sub, items, to_plain(_acc_oracle(items)), _acc_label(items), visible)


@functools.lru_cache(maxsize=2)
def _acc_cases(hidden: bool) -> list[Case]:
    cases = [_acc_case(sub, items, True) for sub, sets in _ACC_VISIBLE.items() for items in sets]
    if hidden:
        rng = random.Random(7)
        for n_items in (5, 12, 40):
            items = _acc_random(rng, n_items)
            cases += [_acc_case(sub, items, False) for sub in _ACC_KEYS]
        ties = [
            ([-2.0, -2.0, -3.0], ["b", "a", "c"], 0),
            ([-1.0, -4.0, -1.0], ["x", "y", "z"], 2),
            ([-7.0, -7.0], ["dog", "cat"], 1),
        ]
        cases.append(_acc_case("acc", ties, False))
    return cases


def _acc_compare(case: Case, got: Any, expected: Any) -> None:
    key = _ACC_KEYS[case.subcheck]
    if not (isinstance(got, dict) and "dict" in got):
        raise GradingError(
            f"accuracy for {case.label}: expected a dict with the keys 'acc', 'acc_norm' and 'acc_bytes', got "
            f"{kind_of(got)}"
        )
    if not (isinstance(expected, dict) and "dict" in expected):
        raise GradingError(f"accuracy for {case.label}: the result to compare with is {kind_of(expected)}, not a dict")
    if key not in got["dict"]:
        raise GradingError(f"accuracy for {case.label}: the dict has no key {key!r} (its keys: {sorted(got['dict'])})")
    _number(
        got["dict"][key],
        expected["dict"].get(key),
        what=f"accuracy's {key!r}",
        context=case.label,
        atol=1e-9,
        rtol=1e-9,
    )


ACCURACY = Exercise(
    name="accuracy",
    cell="accuracy",
    test_cell="accuracy_tests",
    points=2,
    subchecks=(
        SubCheck(
            "acc",
            1.0,
            "'acc': the fraction of items (between 0 and 1) whose highest log-likelihood is the gold "
            "choice's, the first one on a tie",
        ),
        SubCheck(
            "norm", 0.5, "'acc_norm': the same after dividing each log-likelihood by the choice's length in characters"
        ),
        SubCheck(
            "bytes",
            0.5,
            "'acc_bytes': the same after dividing each log-likelihood by the choice's length in UTF-8 bytes",
        ),
    ),
    cases=_acc_cases,
    run=RUNNERS["accuracy"],
    compare=_acc_compare,
    forbidden=_CHOICE_FORBIDDEN,
    mistakes=mistakes(ACCURACY_MISTAKES),
)


EXERCISES: dict[str, Exercise] = {
    "perplexity": PERPLEXITY,
    "sliding_window": SLIDING_WINDOW,
    "bleu": BLEU,
    "rouge_n": ROUGE_N,
    "rouge_l": ROUGE_L,
    "score_choices": SCORE_CHOICES,
    "accuracy": ACCURACY,
}


def check_perplexity(fn, hidden: bool = False) -> None:
    """Exercise 1, against ``F.cross_entropy`` with the padding labelled -100. Hidden: more sizes and paddings."""
    check(PERPLEXITY, fn, hidden)


def check_sliding_window_perplexity(fn, hidden: bool = False) -> None:
    """Exercise 2, against each token scored on its own with its window's context, on small
    random GPT-2 models. Hidden: more lengths, windows and strides."""
    check(SLIDING_WINDOW, fn, hidden)


def check_bleu(fn, hidden: bool = False) -> None:
    """Exercise 3, against ``sacrebleu.corpus_bleu``. Hidden: random corpora."""
    check(BLEU, fn, hidden)


def check_rouge_n(fn, hidden: bool = False) -> None:
    """Exercise 4, against rouge-score's ``rouge1``/``rouge2``/... without stemming. Hidden: random texts, n up to 4."""
    check(ROUGE_N, fn, hidden)


def check_rouge_l(fn, hidden: bool = False) -> None:
    """Exercise 5, against rouge-score's ``rougeL``. Hidden: random texts."""
    check(ROUGE_L, fn, hidden)


def check_score_choices(fn, hidden: bool = False) -> None:
    """Exercise 6, against a tiny GPT-2's float64 loss over the choice's tokens. Hidden: longer contexts and choices."""
    check(SCORE_CHOICES, fn, hidden)


def check_accuracy(fn, hidden: bool = False) -> None:
    """Exercise 7, against lm-evaluation-harness's definitions written with numpy. Hidden: random items, ties."""
    check(ACCURACY, fn, hidden)
