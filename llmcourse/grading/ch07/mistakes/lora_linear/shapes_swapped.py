"""A and B have each other's shapes: A is (r, in_features), B is (out_features, r)"""

import math
import torch
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.scaling = alpha / r
        self.A = nn.Parameter(torch.randn(base.in_features, r) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(r, base.out_features))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.base(x) + self.dropout(x) @ self.A @ self.B * self.scaling

    def merge(self):
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * (self.A @ self.B).T)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged
