"""view() after permute() fails (the permuted tensor is not contiguous): use reshape (or .contiguous().view)"""

import torch


def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError("image size is not a multiple of patch_size")
    x = images.view(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.view(B, -1, C * p * p)
