"""Builds each row at its own length, right-pads it with F.pad and stacks the rows instead of filling preallocated tensors."""

import torch
import torch.nn.functional as F


def build_inputs(image_features, projector, prompt_ids, caption_ids, embed):
    visual = projector(image_features).to(embed.weight.dtype)
    N = visual.shape[1]
    T = N + max(len(p) + len(c) for p, c in zip(prompt_ids, caption_ids))
    embeds, masks, labels = [], [], []
    for b in range(visual.shape[0]):
        row = torch.cat([visual[b], embed(prompt_ids[b]), embed(caption_ids[b])])  # (L, D)
        pad = T - row.shape[0]
        embeds.append(F.pad(row, (0, 0, 0, pad)))
        masks.append(F.pad(torch.ones(row.shape[0], dtype=torch.long), (0, pad)))
        label = torch.cat([torch.full((N + len(prompt_ids[b]),), -100), caption_ids[b]])
        labels.append(F.pad(label, (0, pad), value=-100))
    return torch.stack(embeds), torch.stack(masks), torch.stack(labels)
