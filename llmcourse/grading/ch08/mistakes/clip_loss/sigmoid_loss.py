"""you score each pair with a sigmoid (binary cross-entropy, as SigLIP does); CLIP's loss is the softmax cross-entropy over each row and each column"""

import torch
import torch.nn.functional as F


def clip_loss(image_embeds, text_embeds, temperature):
    image = image_embeds / image_embeds.norm(dim=-1, keepdim=True)
    text = text_embeds / text_embeds.norm(dim=-1, keepdim=True)

    logits = image @ text.T / temperature
    return F.binary_cross_entropy_with_logits(logits, torch.eye(len(logits), dtype=logits.dtype))
