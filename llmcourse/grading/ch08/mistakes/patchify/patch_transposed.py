"""each of your patches is flattened as (channel, column, row): within a channel the pixels go row by row, (channel, row, column) as F.unfold"""

import torch


def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError("image size is not a multiple of patch_size")
    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 5, 3)
    return x.reshape(B, -1, C * p * p)
