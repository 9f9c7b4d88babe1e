"""you score the logits at position t against the token at t itself: the model would learn to copy its input. Compare logits[:, :-1] with input_ids[:, 1:]"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):

    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), input_ids.reshape(-1))
