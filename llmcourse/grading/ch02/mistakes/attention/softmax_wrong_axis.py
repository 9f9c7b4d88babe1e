"""your softmax runs over the queries (dim=-2); each query's weights must sum to one over the keys (dim=-1)"""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-2).nan_to_num(0.0)
    return w @ v, w
