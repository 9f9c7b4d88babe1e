"""you mask with attention_mask[:, :-1] (the inputs'), but what is skipped is a prediction whose *target* is padding: use attention_mask[:, 1:]"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):

    labels = input_ids[:, 1:]
    if attention_mask is not None:
        labels = labels.masked_fill(attention_mask[:, :-1] == 0, -100)
    return F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, ignore_index=-100)
