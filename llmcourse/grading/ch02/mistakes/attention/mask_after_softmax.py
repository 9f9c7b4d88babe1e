"""you apply the mask after the softmax, so the remaining weights no longer sum to one"""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    w = torch.softmax(s, dim=-1)
    if mask is not None:
        w = w * mask
    return w @ v, w
