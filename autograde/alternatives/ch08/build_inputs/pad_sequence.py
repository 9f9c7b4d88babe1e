"""Concatenates each row's visual tokens, prompt and caption and pads the rows with torch's pad_sequence (-100 as the labels' padding value) instead of filling preallocated tensors."""

import torch
from torch.nn.utils.rnn import pad_sequence


def build_inputs(image_features, projector, prompt_ids, caption_ids, embed):
    visual = projector(image_features).to(embed.weight.dtype)
    rows, masks, targets = [], [], []
    for v, p, c in zip(visual, prompt_ids, caption_ids):
        rows.append(torch.cat([v, embed(p), embed(c)]))
        masks.append(torch.ones(len(rows[-1]), dtype=torch.long))
        targets.append(torch.cat([torch.full((len(v) + len(p),), -100, dtype=torch.long), c]))
    return (
        pad_sequence(rows, batch_first=True),
        pad_sequence(masks, batch_first=True),
        pad_sequence(targets, batch_first=True, padding_value=-100),
    )
