"""Has no lm_head module (the logits are F.linear(x, wte.weight)), keeps the blocks in an
nn.Sequential, adds wpe.weight[:T], and computes the loss with log_softmax and gather."""

import torch
import torch.nn.functional as F
from torch import nn


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.transformer.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.transformer.h = nn.Sequential(*[Block(config) for _ in range(config.n_layer)])
        self.transformer.ln_f = nn.LayerNorm(config.n_embd, eps=1e-5)

    def forward(self, idx, targets=None):
        T = idx.size(1)
        x = self.transformer.wte(idx) + self.transformer.wpe.weight[:T]  # (B, T, C) + (T, C)
        x = self.transformer.ln_f(self.transformer.h(x))
        logits = F.linear(x, self.transformer.wte.weight)  # the head is the embedding matrix
        if targets is None:
            return logits, None
        keep = targets != -100
        log_probs = logits.log_softmax(dim=-1)
        picked = log_probs.gather(-1, targets.masked_fill(~keep, 0).unsqueeze(-1)).squeeze(-1)
        return logits, -(picked * keep).sum() / keep.sum()
