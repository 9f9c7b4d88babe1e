"""you never clear the gradients: backward() adds to .grad, so each step also applies the gradients of every earlier batch. Call optimizer.zero_grad() at the start (or the end) of each step"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
