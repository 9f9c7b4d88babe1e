"""you return the loss computed again after the update: return the loss of the forward pass that the step was computed from"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return model(x, y)[1].item()
