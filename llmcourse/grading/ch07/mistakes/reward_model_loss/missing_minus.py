"""you return log sigmoid(margin), the log-likelihood of the preferences, which is to be maximised: the loss is its negative"""

import torch
import torch.nn.functional as F


def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards  # (B,)
    return F.logsigmoid(margin).mean()
