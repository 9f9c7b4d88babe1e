"""What chapter 08's exercises share: the course's reference module (whose functions an answer may
not call), the routes to the patches that patchify and PatchEmbedding forbid, and random images."""

from __future__ import annotations

import numpy as np
import torch

from llmcourse.grading.kit import seeded

REFERENCE = "llmcourse.multimodal"
UNFOLD_TORCH = ("torch.nn.functional.unfold", "torch.nn.functional.conv2d")
UNFOLD_ATEN = ("im2col", "convolution")
CONV_NAMES = ("Conv2d", "conv2d", "Unfold", "im2col", "_conv_forward", REFERENCE)


def random_images(seed: int, B: int, C: int, H: int, W: int) -> np.ndarray:
    """(B, C, H, W) standard normal float32 images, drawn from their own stream ``seed``."""
    return torch.randn(B, C, H, W, generator=seeded(seed)).numpy()
