"""you never call model.train(): a model that comes in eval mode (after an evaluation, say) trains without dropout. Call model.train() at the start of the step"""

import torch


def train_step(model, batch, optimizer, max_grad_norm):
    x, y = batch
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
