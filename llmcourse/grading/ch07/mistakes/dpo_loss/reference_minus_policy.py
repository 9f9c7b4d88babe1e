"""you subtract the policy from the reference (ref - policy): the log-ratios are log pi(y|x) - log pi_ref(y|x), the policy first"""

import torch
import torch.nn.functional as F


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    chosen_logratios = ref_chosen_logps - policy_chosen_logps
    rejected_logratios = ref_rejected_logps - policy_rejected_logps
    logits = beta * (chosen_logratios - rejected_logratios)
    loss = -F.logsigmoid(logits).mean()
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return loss, chosen_rewards, rejected_rewards
