"""you apply F.binary_cross_entropy to sigmoid(logits): it clamps the log at -100, so the loss of a very wrong pair stops at 100. Use F.logsigmoid (or binary_cross_entropy_with_logits)"""

import torch
import torch.nn.functional as F


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    chosen_logratios = policy_chosen_logps - ref_chosen_logps
    rejected_logratios = policy_rejected_logps - ref_rejected_logps
    logits = beta * (chosen_logratios - rejected_logratios)
    probs = torch.sigmoid(logits)
    loss = F.binary_cross_entropy(probs, torch.ones_like(probs))
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return loss, chosen_rewards, rejected_rewards
