"""you masked the response and kept the prompt: the loss must count the response tokens (what the model should answer), not the prompt"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    labels = input_ids.clone()
    labels[positions >= lengths] = -100
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    return labels
