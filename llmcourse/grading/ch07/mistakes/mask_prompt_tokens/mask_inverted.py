"""you mask the positions where attention_mask is 1: 1 marks a real token, 0 the padding"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    labels = input_ids.clone()
    labels[positions < lengths] = -100
    if attention_mask is not None:
        labels[attention_mask == 1] = -100
    return labels
