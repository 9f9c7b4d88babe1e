"""The causal language-modelling loss, written out (the course's reference for chapter 03).

A causal LM reads ``input_ids (B, T)`` and returns ``logits (B, T, V)``: the logits at position
``t`` are its guess for the token at position ``t + 1``. Training therefore compares

    logits[:, :-1]   (the predictions made at positions 0 .. T-2)
    input_ids[:, 1:] (the tokens that actually came next)

with the cross-entropy, averaged over every predicted token of the batch. Padding (positions
where ``attention_mask`` is 0) is not text: a prediction whose *target* is padding is not
counted. This is exactly the loss Hugging Face's ``GPT2LMHeadModel(input_ids,
labels=labels)`` returns when ``labels`` is ``input_ids`` with the padding set to ``-100``
(``tests/test_losses.py`` checks it on random inputs with left and right padding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
"""The label that cross-entropy skips (``F.cross_entropy``'s and Hugging Face's default)."""


def causal_lm_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The ``labels`` Hugging Face's causal LMs expect: ``input_ids`` with padding set to -100.

    Hugging Face shifts the labels inside the model; pass these as ``labels=`` to compare with
    :func:`causal_lm_loss`.
    """
    if attention_mask is None:
        return input_ids.clone()
    return input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)


def token_losses(
    logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-prediction cross-entropy ``(B, T-1)`` and which predictions count ``(B, T-1)``, bool.

    Entry ``[b, t]`` is ``-log p(input_ids[b, t+1] | input_ids[b, :t+1])``; it counts when the
    token it predicts is not padding (``attention_mask[b, t+1] == 1``). Uncounted entries are 0.
    """
    if logits.dim() != 3 or input_ids.dim() != 2 or logits.shape[:2] != input_ids.shape:
        raise ValueError(
            f"expected logits (B, T, V) and input_ids (B, T), got {tuple(logits.shape)} and {tuple(input_ids.shape)}"
        )
    if attention_mask is not None and attention_mask.shape != input_ids.shape:
        raise ValueError(
            f"attention_mask must have the shape of input_ids {tuple(input_ids.shape)}, got "
            f"{tuple(attention_mask.shape)}"
        )
    predictions = logits[:, :-1, :]  # (B, T-1, V): made at positions 0 .. T-2
    targets = input_ids[:, 1:]  # (B, T-1): the tokens that came next
    counted = torch.ones_like(targets, dtype=torch.bool) if attention_mask is None else attention_mask[:, 1:] != 0
    if predictions.dtype in (torch.float16, torch.bfloat16):
        predictions = predictions.float()  # as Hugging Face does: the loss in float32
    nll = F.cross_entropy(predictions.transpose(1, 2), targets, reduction="none")  # (B, T-1)
    return nll.masked_fill(~counted, 0.0), counted


def causal_lm_loss(
    logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean next-token cross-entropy over every counted prediction of the batch (a 0-dim tensor).

    Args:
        logits: ``(B, T, V)``, the model's output for ``input_ids``.
        input_ids: ``(B, T)`` token ids.
        attention_mask: optional ``(B, T)``, 1 for tokens and 0 for padding (as a tokenizer
            returns it); predictions of padding are not counted.

    The mean is over all counted predictions together, not per sequence: a sequence with more
    tokens weighs more, as in Hugging Face. Computed in float32 at least (bfloat16 logits are
    upcast, as Hugging Face does; float64 stays float64).
    """
    nll, counted = token_losses(logits, input_ids, attention_mask)
    return nll.sum() / counted.sum()
