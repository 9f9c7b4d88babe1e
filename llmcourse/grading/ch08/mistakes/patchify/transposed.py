"""you return (B, C*p*p, N), F.unfold's own layout: transpose the last two dimensions"""

import torch


def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError("image size is not a multiple of patch_size")
    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * p * p).transpose(1, 2)
