"""Exercise 1, ``mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None) -> labels``,
against labels written out position by position here, in numpy."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from llmcourse.grading.contract import (
    Case,
    Exercise,
    Forbidden,
    GradingError,
    SubCheck,
    array_of,
    check,
    expect_tensor,
    kind_of,
    to_plain,
    values_of,
)
from llmcourse.grading.kit import catalogue, seeded
from llmcourse.grading.runners.ch07 import RUNNERS
from llmcourse.grading.wire import is_tuple, tensor_meta, tuple_items

from .common import FINETUNE, numpy_of


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
        _labels_expected(cast(np.ndarray, numpy_of(ids)), cast(np.ndarray, numpy_of(lengths)), numpy_of(mask))
    )
    label = f"input_ids {ids.tolist() if B * T <= 24 else (B, T)}, prompt_lengths {lengths.tolist()}"
    label += ", no attention_mask" if mask is None else f", attention_mask {mask.tolist() if B * T <= 24 else (B, T)}"
    expected = to_plain((expected, ids)) if sub == "copy" else to_plain(expected)
    return Case(sub, (numpy_of(ids), numpy_of(lengths), numpy_of(mask), sub), expected, label, visible)


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
        labels_e, ids_e = tuple_items(expected)
        if not is_tuple(got):
            raise GradingError("different kinds of result")
        labels, ids = tuple_items(got)
        # an answer's ids that are no tensor (None) are not equal: the same error as before
        if not np.array_equal(cast(np.ndarray, array_of(ids)), values_of(ids_e)):
            raise GradingError(
                f"mask_prompt_tokens changed input_ids in place for {case.label}: the model still needs "
                "the prompt tokens as its input. Work on a copy (input_ids.clone())"
            )
        meta, meta_e = tensor_meta(labels), tensor_meta(labels_e)
        if meta is None or meta.kind != "torch.Tensor":
            raise GradingError(f"mask_prompt_tokens must return a torch.Tensor, got {kind_of(labels)} for {case.label}")
        want = meta_e.dtype if meta_e is not None else "int64"  # int64 but for a mistake's
        if meta.dtype != want or not meta.has_shape(values_of(ids_e).shape):
            raise GradingError(
                f"the labels must be a torch.{want} tensor of input_ids' shape {tuple(values_of(ids_e).shape)}, "
                f"got torch.{meta.dtype} of shape {meta.shape} for {case.label}"
            )
        return  # the values are the other requirements'
    expect_tensor(got, labels_e, what="labels", context=case.label, atol=0, rtol=0)


# The catalogue, in the order a match is named: each id is a file in mistakes/mask_prompt_tokens/.
MISTAKES = (
    "off_by_one",
    "short_by_one",
    "padding_not_masked",
    "pad_id",
    "in_place",
    "response_masked",
    "zero_not_ignore",
    "first_length",
    "float_labels",
    "mask_inverted",
    "padding_instead_of_prompt",
    "minus_one",
    "masked_fill_discarded",
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
    mistakes=catalogue(__file__, MISTAKES),
)


def check_mask_prompt_tokens(fn, hidden: bool = False) -> None:
    """Exercise 1, against labels written out position by position. Hidden: more shapes and paddings."""
    check(MASK_PROMPT_TOKENS, fn, hidden)
