"""Computes the rewards under torch.no_grad() and the loss with F.binary_cross_entropy_with_logits
on a target of ones, instead of detaching and calling F.logsigmoid."""

import torch
import torch.nn.functional as F


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    with torch.no_grad():
        chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps)
        rejected_rewards = beta * (policy_rejected_logps - ref_rejected_logps)
    logits = beta * (policy_chosen_logps - ref_chosen_logps) - beta * (policy_rejected_logps - ref_rejected_logps)
    loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    return loss, chosen_rewards, rejected_rewards
