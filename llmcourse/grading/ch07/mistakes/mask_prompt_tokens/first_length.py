"""you used prompt_lengths[0] for every row: each row has its own prompt length"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    labels = input_ids.clone()
    labels[:, : int(prompt_lengths[0])] = -100
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    return labels
