"""Labels the padding -100 and lets F.cross_entropy's ignore_index leave it out, as a Hugging Face causal LM's loss does."""

import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    labels = input_ids.clone()
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    shift_logits = logits[:, :-1, :].contiguous()
    shift_labels = labels[:, 1:].contiguous()
    loss = F.cross_entropy(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1), ignore_index=-100)
    return torch.exp(loss).item()
