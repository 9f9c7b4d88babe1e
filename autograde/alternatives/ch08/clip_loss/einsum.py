"""Normalises by a hand-written square root of the summed squares, computes the logits with einsum times 1 / temperature, and weighs the two cross-entropies by 0.5 each."""

import torch
import torch.nn.functional as F


def clip_loss(image_embeds, text_embeds, temperature):
    image = image_embeds / torch.sqrt((image_embeds**2).sum(-1, keepdim=True))
    text = text_embeds / torch.sqrt((text_embeds**2).sum(-1, keepdim=True))
    logits = torch.einsum("id,jd->ij", image, text) * (1.0 / temperature)
    labels = torch.arange(logits.shape[0])
    loss_i = F.cross_entropy(logits, labels)
    loss_t = F.cross_entropy(logits.t(), labels)
    return 0.5 * loss_i + 0.5 * loss_t
