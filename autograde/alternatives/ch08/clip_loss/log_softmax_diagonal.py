"""Normalises with F.normalize and averages the diagonals of the row-wise and column-wise log_softmax instead of calling F.cross_entropy."""

import torch
import torch.nn.functional as F


def clip_loss(image_embeds, text_embeds, temperature):
    image = F.normalize(image_embeds, dim=-1)
    text = F.normalize(text_embeds, dim=-1)
    logits = image @ text.T / temperature
    log_rows = logits.log_softmax(dim=1).diagonal()
    log_cols = logits.log_softmax(dim=0).diagonal()
    return -(log_rows.mean() + log_cols.mean()) / 2
