"""your presence penalty grows with the count (it is subtracted once per occurrence, or the two penalties are swapped); it is paid once for any token that occurs at all, only the frequency penalty grows with the count"""

import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):

    counts = torch.zeros_like(logits)
    counts.scatter_add_(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits - counts * (frequency_penalty + presence_penalty)
