"""your perplexity ignores attention_mask: the padding tokens are counted as targets"""

import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    shift_logits = logits[:, :-1, :]
    shift_labels = input_ids[:, 1:]
    loss = F.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1))
    return torch.exp(loss).item()
