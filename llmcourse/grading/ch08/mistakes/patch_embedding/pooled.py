"""you average over the patches, (B, embed_dim): return one embedding per patch, (B, N, embed_dim)"""

import torch
from torch import nn


class PatchEmbedding(nn.Module):
    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Linear(in_channels * patch_size**2, embed_dim)

    def forward(self, images):
        return self.proj(patchify(images, self.patch_size)).mean(1)
