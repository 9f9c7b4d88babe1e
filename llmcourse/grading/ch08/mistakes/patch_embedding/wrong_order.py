"""your patches are flattened as (row, column, channel), so proj.weight does not match the convolution's kernel reshaped to (E, C, p, p): flatten each patch as (channel, row, column)"""

import torch
from torch import nn


class PatchEmbedding(nn.Module):
    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Linear(in_channels * patch_size**2, embed_dim)

    def forward(self, images):
        B, C, H, W = images.shape
        p = self.patch_size
        x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1).reshape(B, -1, C * p * p)
        return self.proj(x)
