"""your linear layer is not named proj: the checks (and ViT code) look for self.proj"""

import torch
from torch import nn


class PatchEmbedding(nn.Module):
    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.linear = nn.Linear(in_channels * patch_size**2, embed_dim)

    def forward(self, images):
        return self.linear(patchify(images, self.patch_size))
