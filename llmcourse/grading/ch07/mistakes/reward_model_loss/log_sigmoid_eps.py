"""you add a small epsilon inside the log (log(sigmoid(margin) + eps)): the loss no longer underflows, but it saturates at -log(eps) instead of growing with the margin. Use F.logsigmoid"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards  # (B,)
    return -torch.log(torch.sigmoid(margin) + 1e-8).mean()
