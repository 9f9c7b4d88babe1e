"""you unpack the batch as (targets, inputs): batch = (x, y), the inputs first and the next-token targets second; the model is called as model(x, y)"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    y, x = batch
    model.train()
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
