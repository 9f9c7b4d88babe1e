"""Valid alternative 2 of mask_prompt_tokens."""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    keep = positions >= lengths
    if attention_mask is not None:
        keep = keep & attention_mask.bool()
    return torch.where(keep, input_ids, torch.full_like(input_ids, -100))
