"""The solution with nn.Linear's bias=True default written out."""

import torch
from torch import nn


class PatchEmbedding(nn.Module):
    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Linear(in_channels * patch_size**2, embed_dim, bias=True)

    def forward(self, images):
        return self.proj(patchify(images, self.patch_size))
