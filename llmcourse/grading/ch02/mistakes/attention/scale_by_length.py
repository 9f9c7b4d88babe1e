"""you scale by sqrt(q.shape[-2]), the number of queries; d is the last dimension, q.shape[-1]"""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-2])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
