"""a fully masked row gives NaN (softmax of all -inf): make its weights zero"""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1)
    return w @ v, w
