"""your sliding-window perplexity swaps stride and max_length: windows must start every `stride` tokens and be at most `max_length` long"""

import math
import torch
import torch.nn.functional as F


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    with torch.no_grad():
        for begin in range(0, N, max_length):
            end = min(begin + stride, N)
            if end - begin < 2:
                continue
            logits = model(input_ids[:, begin:end]).logits
            nll_sum += F.cross_entropy(logits[0, :-1], input_ids[0, begin + 1 : end], reduction="sum").item()
            n_tokens += end - begin - 1
    return math.exp(nll_sum / n_tokens)
