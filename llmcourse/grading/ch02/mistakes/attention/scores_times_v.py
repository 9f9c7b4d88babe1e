"""your output multiplies v by the scores; it is the weights (after the softmax) times v"""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return s.nan_to_num(0.0, neginf=0.0) @ v, w
