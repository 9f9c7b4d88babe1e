"""Ties the other way round (wte.weight = lm_head.weight), indexes the ModuleDict and the blocks by
name and position, and takes the loss from an nn.CrossEntropyLoss module."""

import torch
from torch import nn


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(config.vocab_size, config.n_embd),
                "wpe": nn.Embedding(config.block_size, config.n_embd),
                "h": nn.ModuleList(Block(config) for _ in range(config.n_layer)),
                "ln_f": nn.LayerNorm(config.n_embd),
            }
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        self.criterion = nn.CrossEntropyLoss(ignore_index=-100)

    def forward(self, idx, targets=None):
        positions = torch.arange(idx.shape[1], device=idx.device).unsqueeze(0)  # (1, T)
        h = self.transformer["wte"](idx) + self.transformer["wpe"](positions)
        for i in range(len(self.transformer["h"])):
            h = self.transformer["h"][i](h)
        logits = self.lm_head(self.transformer["ln_f"](h))
        loss = None if targets is None else self.criterion(logits.flatten(0, 1), targets.flatten())
        return logits, loss
