"""Clips by hand (every gradient scaled by max_grad_norm over the global norm, at most 1) instead of
calling clip_grad_norm_, and clears the gradients with model.zero_grad()."""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    model.train()
    model.zero_grad(set_to_none=True)
    loss = model(*batch)[1]
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    total_norm = torch.sqrt(sum((g.detach() ** 2).sum() for g in grads))
    scale = torch.clamp(max_grad_norm / (total_norm + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)
    optimizer.step()
    return loss.item()
