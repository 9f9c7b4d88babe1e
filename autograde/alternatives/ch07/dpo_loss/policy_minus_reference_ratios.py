"""Uses TRL's older formula, softplus(-beta * (the policy's chosen-minus-rejected log-ratio minus
the reference's)), instead of -logsigmoid(beta * (chosen log-ratio - rejected log-ratio)), each
log-ratio being policy minus reference."""

import torch
import torch.nn.functional as F


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    pi_logratios = policy_chosen_logps - policy_rejected_logps
    ref_logratios = ref_chosen_logps - ref_rejected_logps
    losses = F.softplus(-beta * (pi_logratios - ref_logratios))
    chosen_rewards = (beta * (policy_chosen_logps - ref_chosen_logps)).detach()
    rejected_rewards = (beta * (policy_rejected_logps - ref_rejected_logps)).detach()
    return losses.mean(), chosen_rewards, rejected_rewards
