"""you reshape the image straight to (B, N, C*p*p) without permuting, so a 'patch' is a run of consecutive pixels of one row, not a square"""

import torch


def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError("image size is not a multiple of patch_size")
    return images.reshape(B, -1, C * p * p)
