"""a fully masked row gets equal weights: with -1e9 (not -inf) every score of that row is the same, so softmax spreads it evenly; give such a row zero weights"""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, -1e9)
    w = torch.softmax(s, dim=-1)
    return w @ v, w
