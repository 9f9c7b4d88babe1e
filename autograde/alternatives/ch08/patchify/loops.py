"""Slices the patches one by one in Python loops over the grid, row by row, and stacks them."""

import torch


def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    if H % p != 0 or W % p != 0:
        raise ValueError(f"{H}x{W} is not divisible by {p}")
    rows = []
    for i in range(0, H, p):
        for j in range(0, W, p):
            rows.append(images[:, :, i : i + p, j : j + p].reshape(B, -1))
    return torch.stack(rows, dim=1)
