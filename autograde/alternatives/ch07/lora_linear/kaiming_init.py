"""Initialises A with peft's Kaiming-uniform initialisation and computes the update with two
torch.matmul calls, instead of a scaled randn and the @ operator."""

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
        self.A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        h = torch.matmul(self.dropout(x), self.A.t())
        return self.base(x) + self.scaling * torch.matmul(h, self.B.t())

    def merge(self):
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * self.B @ self.A)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged
