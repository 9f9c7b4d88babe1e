"""your proj is nn.Linear(embed_dim, in_channels * patch_size**2): nn.Linear takes (in_features, out_features)"""

import torch
from torch import nn


class PatchEmbedding(nn.Module):
    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Linear(embed_dim, in_channels * patch_size**2)

    def forward(self, images):
        return self.proj(patchify(images, self.patch_size))
