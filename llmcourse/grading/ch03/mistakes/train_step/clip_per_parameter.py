"""you clip each parameter's gradient by its own norm: clip_grad_norm_ takes all the parameters at once and scales every gradient by the same factor, from their global norm"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    for p in model.parameters():
        torch.nn.utils.clip_grad_norm_(p, max_grad_norm)
    optimizer.step()
    return loss.item()
