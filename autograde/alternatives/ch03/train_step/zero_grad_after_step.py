"""Clears the gradients after optimizer.step() (to zeros, not None) instead of before the forward
pass, and returns float(loss.detach())."""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    inputs, targets = batch
    model.train()
    logits, loss = model(inputs, targets)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=False)
    return float(loss.detach())
