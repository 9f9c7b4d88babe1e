"""you assume square images (W = H): the grid is H/p rows by W/p columns"""

import torch


def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError("image size is not a multiple of patch_size")
    x = images.reshape(B, C, H // p, p, H // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, (H // p) ** 2, C * p * p)
