"""Valid alternative 1 of mask_prompt_tokens."""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    labels = input_ids.clone()
    for b, n in enumerate(prompt_lengths):
        labels[b, : int(n)] = -100
    if attention_mask is not None:
        labels = labels.masked_fill(attention_mask == 0, -100)
    return labels
