"""you return a grid (B, embed_dim, H/p, W/p) as the convolution does; flatten it to (B, N, embed_dim)"""

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
        out = self.proj(patchify(images, p))
        return out.transpose(1, 2).reshape(B, -1, H // p, W // p)
