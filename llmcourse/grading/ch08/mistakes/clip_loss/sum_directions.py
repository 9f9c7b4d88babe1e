"""you add the two directions without halving: CLIP averages them"""

import torch
import torch.nn.functional as F


def clip_loss(image_embeds, text_embeds, temperature):
    image = image_embeds / image_embeds.norm(dim=-1, keepdim=True)
    text = text_embeds / text_embeds.norm(dim=-1, keepdim=True)
    labels = torch.arange(len(image_embeds))

    logits = image @ text.T / temperature
    return F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)
