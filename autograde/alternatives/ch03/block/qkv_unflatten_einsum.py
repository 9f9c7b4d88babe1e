"""Splits c_attn's output into q, k and v with unflatten and permute, attends with einsum against a
causal mask buffer sliced to T (NaN rows zeroed), and builds the MLP as an nn.Sequential with
nn.GELU(approximate="tanh")."""

import math
from collections import OrderedDict
import torch
from torch import nn


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return torch.einsum("bhqk,bhkd->bhqd", weights, v), weights


class SelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=True)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=True)
        self.register_buffer(
            "bias", torch.ones(config.block_size, config.block_size, dtype=torch.bool).tril(), persistent=False
        )

    def forward(self, x, attention_mask=None):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).unflatten(-1, (3, self.n_head, C // self.n_head)).permute(2, 0, 3, 1, 4)
        mask = self.bias[:T, :T]
        if attention_mask is not None:
            mask = mask & (attention_mask[:, None, None, :] == 1)
        y, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.c_proj(y.permute(0, 2, 1, 3).flatten(2))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        C = config.n_embd
        self.ln_1, self.ln_2 = (
            nn.LayerNorm(C, eps=config.layer_norm_epsilon),
            nn.LayerNorm(C, eps=config.layer_norm_epsilon),
        )
        self.attn = SelfAttention(config)
        self.mlp = nn.Sequential(
            OrderedDict(c_fc=nn.Linear(C, 4 * C), act=nn.GELU(approximate="tanh"), c_proj=nn.Linear(4 * C, C))
        )

    def forward(self, x, attention_mask=None):
        x = x + self.attn(self.ln_1(x), attention_mask)
        return x + self.mlp(self.ln_2(x))
