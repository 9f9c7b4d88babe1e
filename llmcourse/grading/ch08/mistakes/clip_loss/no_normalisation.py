"""you do not L2-normalise the embeddings: CLIP's logits are cosine similarities"""

import torch
import torch.nn.functional as F


def clip_loss(image_embeds, text_embeds, temperature):
    labels = torch.arange(len(image_embeds))

    logits = image_embeds @ text_embeds.T / temperature
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
