"""you divide the loss by the batch size before backward(): it is already the mean over every token of the batch, so the gradients come out too small"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    _, loss = model(x, y)
    (loss / x.shape[0]).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
