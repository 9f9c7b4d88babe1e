"""you add the boolean mask to the scores (True = +1): a boolean mask selects, masked_fill(~mask, -inf)"""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s + mask
    w = torch.softmax(s, dim=-1)
    return w @ v, w
