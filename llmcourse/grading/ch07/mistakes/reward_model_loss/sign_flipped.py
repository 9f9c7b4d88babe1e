"""the margin has the wrong sign (rejected - chosen): the loss would teach the model to prefer the rejected responses"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    return -F.logsigmoid(rejected_rewards - chosen_rewards).mean()
