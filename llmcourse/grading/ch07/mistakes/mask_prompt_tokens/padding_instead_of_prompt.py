"""with an attention_mask you mask the padding instead of the prompt: the prompt is masked in every case, the padding as well when there is a mask"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    labels = input_ids.clone()
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    else:
        labels[positions < lengths] = -100
    return labels
