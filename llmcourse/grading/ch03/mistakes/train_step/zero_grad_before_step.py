"""you clear the gradients after backward() and before optimizer.step(): the step sees no gradient. Clear them at the start of the step, or after optimizer.step()"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    _, loss = model(x, y)
    loss.backward()
    optimizer.zero_grad()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
