"""Builds a boolean mask of the positions to keep and picks between input_ids and -100 with
torch.where, instead of writing -100 into a clone."""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    keep = positions >= lengths
    if attention_mask is not None:
        keep = keep & attention_mask.bool()
    return torch.where(keep, input_ids, torch.full_like(input_ids, -100))
