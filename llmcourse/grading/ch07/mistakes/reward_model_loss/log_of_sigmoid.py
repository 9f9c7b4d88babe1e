"""you take torch.log(torch.sigmoid(margin)) (or log(1 + exp(-margin))): for a very negative margin the sigmoid underflows to 0 (the exp overflows) and the loss becomes inf. Use F.logsigmoid (or F.softplus(-margin))"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards  # (B,)
    return -torch.log(torch.sigmoid(margin)).mean()
