"""you modify input_ids in place: the labels must be a copy (input_ids.clone()), the model still needs the prompt as its input"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    labels = input_ids
    labels[positions < lengths] = -100
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    return labels
