"""you count the padding: tokens whose attention_mask is 0 are not text; leave them out of the loss (label them -100, or mask them)"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):

    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), input_ids[:, 1:].reshape(-1))
