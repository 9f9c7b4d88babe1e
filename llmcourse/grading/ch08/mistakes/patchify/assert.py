"""you use assert, which raises AssertionError (and is skipped under python -O): raise ValueError"""

import torch


def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    assert H % p == 0 and W % p == 0, "image size is not a multiple of patch_size"
    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * p * p)
