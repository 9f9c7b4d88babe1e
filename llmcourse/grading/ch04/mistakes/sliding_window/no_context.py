"""your sliding-window perplexity feeds each window only the tokens it scores: the earlier tokens of the window must be there as context (and the first new token of each window goes unscored)"""

import math
import torch
import torch.nn.functional as F


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    prev_end = 0
    with torch.no_grad():
        for begin in range(0, N, stride):
            end = min(begin + max_length, N)
            new_tokens = input_ids[:, prev_end:end]  # only what this window has to score
            if new_tokens.size(1) > 1:
                logits = model(new_tokens).logits
                nll_sum += F.cross_entropy(logits[0, :-1], new_tokens[0, 1:], reduction="sum").item()
                n_tokens += new_tokens.size(1) - 1
            prev_end = end
            if end == N:
                break
    return math.exp(nll_sum / n_tokens)
