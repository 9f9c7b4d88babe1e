"""your log_softmax runs over the positions (dim=1): the distribution of the next token is over the vocabulary, the last dimension"""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    log_probs = F.log_softmax(logits, dim=1)[:, :-1]
    targets = labels[:, 1:]
    counted = targets != -100
    nll = -log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (nll * counted).sum() / counted.sum()
