"""F.cross_entropy wants the classes in dimension 1: pass (B, V, T - 1) (logits[:, :-1].transpose(1, 2)) or flatten to (B * (T - 1), V)"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):
    return F.cross_entropy(logits[:, :-1], input_ids[:, 1:])
