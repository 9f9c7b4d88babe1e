"""your penalties count with F.one_hot without num_classes, so the counts are as long as the largest token id + 1, not (V,); pass num_classes=V"""

import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):

    import torch.nn.functional as F

    counts = F.one_hot(generated_ids).sum(dim=1).to(logits.dtype)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
