"""Splits the heads with a lambda called inside the call to scaled_dot_product_attention, instead
of a nested function and named q, k, v."""

import math
import torch
from torch import nn


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query, key, value, mask=None):
        B, Tq, E = query.shape
        split = lambda x: x.view(B, -1, self.num_heads, self.head_dim).transpose(1, 2)

        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
