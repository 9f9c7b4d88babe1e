"""your labels are a float tensor (torch.where with -100.0, or .float()): labels are token ids, a torch.int64 tensor as input_ids"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    labels = torch.where(positions < lengths, -100.0, input_ids.float())
    if attention_mask is not None:
        labels = torch.where(attention_mask == 0, -100.0, labels)
    return labels
