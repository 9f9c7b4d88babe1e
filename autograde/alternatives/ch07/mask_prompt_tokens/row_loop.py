"""Masks each row's prompt in a Python loop over prompt_lengths and the padding with masked_fill,
instead of comparing a position grid with the lengths."""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    labels = input_ids.clone()
    for b, n in enumerate(prompt_lengths):
        labels[b, : int(n)] = -100
    if attention_mask is not None:
        labels = labels.masked_fill(attention_mask == 0, -100)
    return labels
