"""you compute k q^T, (Tk, Tq); the scores are q k^T, one row per query (Tq, Tk)"""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    s = k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
