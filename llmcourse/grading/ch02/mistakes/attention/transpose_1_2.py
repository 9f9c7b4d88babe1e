"""k.transpose(1, 2) only works for 3-d inputs: transpose the last two dimensions (-2, -1)"""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    s = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
