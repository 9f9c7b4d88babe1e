"""you call optimizer.step() twice: one call per training step"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    optimizer.step()
    return loss.item()
