"""your sliding-window perplexity scores every token of every window: tokens in the overlap are scored again; each window must score only the tokens no earlier window scored"""

import math
import torch
import torch.nn.functional as F


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    with torch.no_grad():
        for begin in range(0, N, stride):
            end = min(begin + max_length, N)
            logits = model(input_ids[:, begin:end]).logits  # (1, W, V)
            nll_sum += F.cross_entropy(logits[0, :-1], input_ids[0, begin + 1 : end], reduction="sum").item()
            n_tokens += end - begin - 1
            if end == N:
                break
    return math.exp(nll_sum / n_tokens)
