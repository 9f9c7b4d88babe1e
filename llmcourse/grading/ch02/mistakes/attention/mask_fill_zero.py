"""you set the masked scores to 0, which still gets weight (e^0 = 1): set them to -inf before the softmax"""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, 0.0)
    w = torch.softmax(s, dim=-1)
    return w @ v, w
