"""each response's log-probability is compared with the reference's of the other response (chosen with rejected): subtract ref_chosen_logps from policy_chosen_logps, and ref_rejected_logps from policy_rejected_logps"""

import torch
import torch.nn.functional as F


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    chosen_logratios = policy_chosen_logps - ref_rejected_logps
    rejected_logratios = policy_rejected_logps - ref_chosen_logps
    logits = beta * (chosen_logratios - rejected_logratios)
    loss = -F.logsigmoid(logits).mean()
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return loss, chosen_rewards, rejected_rewards
