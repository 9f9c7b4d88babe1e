"""you multiply the patches by proj.weight itself, (embed_dim, C*p*p); nn.Linear computes x @ weight.T + bias: call self.proj(patches)"""

import torch
from torch import nn


class PatchEmbedding(nn.Module):
    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Linear(in_channels * patch_size**2, embed_dim)

    def forward(self, images):
        return patchify(images, self.patch_size) @ self.proj.weight + self.proj.bias
