"""you normalise the image embeddings only: the text embeddings are L2-normalised too"""

import torch
import torch.nn.functional as F


def clip_loss(image_embeds, text_embeds, temperature):
    labels = torch.arange(len(image_embeds))

    image = image_embeds / image_embeds.norm(dim=-1, keepdim=True)
    logits = image @ text_embeds.T / temperature
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
