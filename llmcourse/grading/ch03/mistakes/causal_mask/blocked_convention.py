"""your mask is True where attention is *blocked* (the convention of nn.MultiheadAttention's attn_mask); in this course True means 'may attend'"""

import torch


def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
