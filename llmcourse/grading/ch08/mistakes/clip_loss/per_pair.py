"""you return a loss per pair, (N,) (reduction='none'): CLIP's loss is one number, each cross-entropy averaged over the batch"""

import torch
import torch.nn.functional as F


def clip_loss(image_embeds, text_embeds, temperature):
    image = image_embeds / image_embeds.norm(dim=-1, keepdim=True)
    text = text_embeds / text_embeds.norm(dim=-1, keepdim=True)
    labels = torch.arange(len(image_embeds))

    logits = image @ text.T / temperature
    return (F.cross_entropy(logits, labels, reduction="none") + F.cross_entropy(logits.T, labels, reduction="none")) / 2
