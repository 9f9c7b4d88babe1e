"""merge() adds the update into the base layer's weight in place: the LoRA layer, which still adds (alpha / r) B A x on top of that weight, then applies the update twice. Build the merged nn.Linear from a copy (a new nn.Linear, or copy.deepcopy(self.base)) and leave the base as it was"""

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
        self.A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.base(x) + self.dropout(x) @ self.A.T @ self.B.T * self.scaling

    def merge(self):
        with torch.no_grad():
            self.base.weight += self.scaling * self.B @ self.A
        return self.base
