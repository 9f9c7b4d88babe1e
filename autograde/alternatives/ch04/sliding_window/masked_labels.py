"""Labels the window's already-scored tokens -100 and sums F.cross_entropy with ignore_index over the shifted labels."""

import math
import torch
import torch.nn.functional as F
from llmcourse.models import logits_fn


def sliding_window_perplexity(model, input_ids, max_length, stride):
    logits_of = logits_fn(model)
    seq_len = input_ids.size(1)
    nll_sum, n_tokens, prev_end = 0.0, 0, 0
    for begin in range(0, seq_len, stride):
        end = min(begin + max_length, seq_len)
        window = input_ids[:, begin:end]
        labels = window.clone()
        labels[:, : prev_end - begin] = -100  # already scored: context only
        with torch.no_grad():
            logits = logits_of(window)
        shift_labels = labels[0, 1:]
        nll_sum += F.cross_entropy(logits[0, :-1], shift_labels, ignore_index=-100, reduction="sum").item()
        n_tokens += (shift_labels != -100).sum().item()
        prev_end = end
        if end == seq_len:
            break
    return math.exp(nll_sum / n_tokens)
