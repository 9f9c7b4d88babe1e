"""your perplexity averages the perplexities of the rows: it must be exp of the mean NLL over all predicted tokens of the batch (a long row counts more than a short one)"""

import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1)
    nll = -log_probs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    mask = attention_mask[:, 1:].float()
    per_sequence = (nll * mask).sum(dim=1) / mask.sum(dim=1)  # (B,)
    return torch.exp(per_sequence).mean().item()
