"""the step uses unclipped gradients: no clipping, or clipping after optimizer.step() (too late) or before backward() (no gradient yet). Call torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm) between backward() and step()"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    return loss.item()
