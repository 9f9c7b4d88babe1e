"""you normalise along dim=0 (each feature over the batch); each embedding is normalised along its own features, dim=-1"""

import torch
import torch.nn.functional as F


def clip_loss(image_embeds, text_embeds, temperature):
    labels = torch.arange(len(image_embeds))

    image = image_embeds / image_embeds.norm(dim=0, keepdim=True)
    text = text_embeds / text_embeds.norm(dim=0, keepdim=True)
    logits = image @ text.T / temperature
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
