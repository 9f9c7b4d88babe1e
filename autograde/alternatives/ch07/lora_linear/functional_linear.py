"""Computes the layer and the update with F.linear, freezes the base by setting requires_grad by
hand, and merges into a deep copy of the base layer, instead of a new nn.Linear."""

import copy
import torch
import torch.nn.functional as F
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        base.weight.requires_grad = False
        if base.bias is not None:
            base.bias.requires_grad = False
        self.base, self.r, self.alpha = base, r, alpha
        self.A = nn.Parameter(torch.empty(r, base.in_features).normal_(std=0.02))
        self.B = nn.Parameter(base.weight.new_zeros(base.out_features, r))
        self.drop = nn.Dropout(p=dropout)

    def forward(self, x):
        update = F.linear(F.linear(self.drop(x), self.A), self.B)
        return F.linear(x, self.base.weight, self.base.bias) + (self.alpha / self.r) * update

    def merge(self):
        merged = copy.deepcopy(self.base)
        merged.weight.data += (self.alpha / self.r) * (self.B.data @ self.A.data)
        return merged
