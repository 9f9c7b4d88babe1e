"""The valid alternatives of chapter 07_finetuning's graded exercises (``llmcourse.grading.ch07``):
complete correct answers written differently from the solution, by the exercise's key in that
chapter's ``EXERCISES``.

The mutation suite (``make mutants``) grades each one and requires full marks; the class report
flags answers that are near-copies of them (``llmcourse.grading.similarity.course_code``); the
tests use them as known good answers. They live here, on the instructor's side, and not in
``llmcourse/grading/ch07.py``: that module is what the student's notebook imports, and
``autograde/`` is not part of the installed package. Read with
``llmcourse.grading.alternatives.alternatives_of`` (parsed, never run).
"""

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "mask_prompt_tokens": (
        r'''import torch
def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    labels = input_ids.clone()
    for b, n in enumerate(prompt_lengths):
        labels[b, : int(n)] = -100
    if attention_mask is not None:
        labels = labels.masked_fill(attention_mask == 0, -100)
    return labels
''',
        r'''import torch
def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    keep = positions >= lengths
    if attention_mask is not None:
        keep = keep & attention_mask.bool()
    return torch.where(keep, input_ids, torch.full_like(input_ids, -100))
''',
    ),
    "sft_loss": (
        r'''import torch
import torch.nn.functional as F
def sft_loss(logits, labels):
    targets = labels[:, 1:]
    counted = targets != -100
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), targets.clamp(min=0), reduction="none")  # (B, T-1)
    return (nll * counted).sum() / counted.sum()
''',
        r'''import torch
import torch.nn.functional as F
def sft_loss(logits, labels):
    log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
    targets = labels[:, 1:]
    keep = targets != -100
    picked = log_probs[keep].gather(-1, targets[keep][:, None]).squeeze(-1)
    return -picked.mean()
''',
        r'''import torch
import torch.nn.functional as F
def sft_loss(logits, labels):
    loss_fn = torch.nn.CrossEntropyLoss()  # ignore_index=-100 by default
    return loss_fn(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten())
''',
    ),
    "lora_linear": (
        # peft's own initialisation (kaiming on A), the update as two nn.Linear-free matmuls.
        r'''import math
import torch
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.scaling = alpha / r
        self.A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        h = torch.matmul(self.dropout(x), self.A.t())
        return self.base(x) + self.scaling * torch.matmul(h, self.B.t())

    def merge(self):
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * self.B @ self.A)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged
''',
        # F.linear everywhere, merge with a copy of the base layer.
        r'''import copy
import torch
import torch.nn.functional as F
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        base.weight.requires_grad = False
        if base.bias is not None:
            base.bias.requires_grad = False
        self.base, self.r, self.alpha = base, r, alpha
        self.A = nn.Parameter(torch.empty(r, base.in_features).normal_(std=0.02))
        self.B = nn.Parameter(base.weight.new_zeros(base.out_features, r))
        self.drop = nn.Dropout(p=dropout)

    def forward(self, x):
        update = F.linear(F.linear(self.drop(x), self.A), self.B)
        return F.linear(x, self.base.weight, self.base.bias) + (self.alpha / self.r) * update

    def merge(self):
        merged = copy.deepcopy(self.base)
        merged.weight.data += (self.alpha / self.r) * (self.B.data @ self.A.data)
        return merged
''',
    ),
    "reward_model_loss": (
        r'''import torch
import torch.nn.functional as F
def reward_model_loss(chosen_rewards, rejected_rewards):
    return F.softplus(rejected_rewards - chosen_rewards).mean()
''',
        r'''import torch
import torch.nn.functional as F
def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards
    return F.binary_cross_entropy_with_logits(margin, torch.ones_like(margin))
''',
        r'''import torch
def reward_model_loss(chosen_rewards, rejected_rewards):
    margin = chosen_rewards - rejected_rewards
    return torch.logaddexp(torch.zeros_like(margin), -margin).mean()
''',
    ),
    "dpo_loss": (
        # TRL's older formula: the policy's log-ratio of chosen to rejected minus the reference's.
        r'''import torch
import torch.nn.functional as F
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    pi_logratios = policy_chosen_logps - policy_rejected_logps
    ref_logratios = ref_chosen_logps - ref_rejected_logps
    losses = F.softplus(-beta * (pi_logratios - ref_logratios))
    chosen_rewards = (beta * (policy_chosen_logps - ref_chosen_logps)).detach()
    rejected_rewards = (beta * (policy_rejected_logps - ref_rejected_logps)).detach()
    return losses.mean(), chosen_rewards, rejected_rewards
''',
        r'''import torch
import torch.nn.functional as F
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    with torch.no_grad():
        chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps)
        rejected_rewards = beta * (policy_rejected_logps - ref_rejected_logps)
    logits = beta * (policy_chosen_logps - ref_chosen_logps) - beta * (policy_rejected_logps - ref_rejected_logps)
    loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    return loss, chosen_rewards, rejected_rewards
''',
    ),
}
