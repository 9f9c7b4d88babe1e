"""you divide by norm(dim=-1) without keepdim=True: an (N,) vector divides the columns, not the rows; keep the dimension, (N, 1)"""

import torch
import torch.nn.functional as F


def clip_loss(image_embeds, text_embeds, temperature):
    labels = torch.arange(len(image_embeds))

    image = image_embeds / image_embeds.norm(dim=-1)
    text = text_embeds / text_embeds.norm(dim=-1)
    logits = image @ text.T / temperature
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
