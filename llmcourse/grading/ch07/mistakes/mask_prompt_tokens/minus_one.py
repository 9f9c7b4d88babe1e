"""you mark the masked positions with -1: the label that cross-entropy skips (ignore_index) is -100"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    labels = input_ids.clone()
    labels[positions < lengths] = -1
    if attention_mask is not None:
        labels[attention_mask == 0] = -1
    return labels
