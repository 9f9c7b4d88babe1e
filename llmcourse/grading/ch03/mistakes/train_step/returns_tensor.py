"""you return the loss tensor: return a Python float, loss.item() (a tensor keeps its whole graph alive as long as you keep it, e.g. in a list of losses)"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss
