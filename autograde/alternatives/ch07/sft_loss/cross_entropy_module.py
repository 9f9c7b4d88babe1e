"""Calls an nn.CrossEntropyLoss module (ignore_index=-100 by default) on the flattened shifted
logits and labels, instead of F.cross_entropy."""

import torch
import torch.nn.functional as F


def sft_loss(logits, labels):
    loss_fn = torch.nn.CrossEntropyLoss()  # ignore_index=-100 by default
    return loss_fn(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten())
