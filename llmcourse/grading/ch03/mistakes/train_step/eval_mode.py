"""you put the model in eval mode (model.eval()): training runs in training mode, model.train() (dropout is only on in training mode)"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.eval()
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
