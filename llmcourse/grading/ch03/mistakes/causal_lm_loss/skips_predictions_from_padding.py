"""you also skip the predictions made *from* padding (attention_mask[:, :-1] and [:, 1:] both 1): with left padding the first real token is predicted from a padding position, and it counts, since its label is real"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):
    labels = input_ids[:, 1:]
    counted = torch.ones_like(labels, dtype=torch.bool) if attention_mask is None else attention_mask[:, 1:] == 1
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, reduction="none")  # (B, T-1)
    if attention_mask is not None:
        counted = counted & (attention_mask[:, :-1] == 1)
    return (nll * counted).sum() / counted.sum()
