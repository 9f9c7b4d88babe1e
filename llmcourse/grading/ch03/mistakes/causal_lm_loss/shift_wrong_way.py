"""you shift the wrong way: logits[:, 1:] against input_ids[:, :-1] asks each position to predict the token *before* it"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):

    V = logits.shape[-1]
    return F.cross_entropy(logits[:, 1:].reshape(-1, V), input_ids[:, :-1].reshape(-1))
