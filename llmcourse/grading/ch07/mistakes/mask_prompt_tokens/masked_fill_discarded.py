"""labels.masked_fill(...) returns a new tensor and leaves labels as it was: assign its result (labels = labels.masked_fill(...)) or use masked_fill_"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    labels = input_ids.clone()
    labels.masked_fill(positions < lengths, -100)
    if attention_mask is not None:
        labels.masked_fill(attention_mask == 0, -100)
    return labels
