"""you clip each gradient entry to [-max_grad_norm, max_grad_norm] (clip_grad_value_); clip the global norm of all gradients together, torch.nn.utils.clip_grad_norm_"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
