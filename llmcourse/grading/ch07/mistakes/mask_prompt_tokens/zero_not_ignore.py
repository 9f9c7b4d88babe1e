"""you set the masked positions to 0; cross-entropy skips only the label -100 (ignore_index), 0 is a real token id"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    labels = input_ids.clone()
    labels[positions < lengths] = 0
    if attention_mask is not None:
        labels[attention_mask == 0] = 0
    return labels
