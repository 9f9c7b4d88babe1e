"""your sliding-window perplexity reads model(ids).logits: model may be any causal LM logits_fn accepts, and a plain function ids -> logits returns the logits themselves (logits_fn(model, ids) handles both)"""

import math
import torch
import torch.nn.functional as F
from llmcourse.models import logits_fn


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    logits_of = logits_fn(model)
    nll_sum, n_tokens, prev_end = 0.0, 0, 0
    with torch.no_grad():
        for begin in range(0, N, stride):
            end = min(begin + max_length, N)
            window = input_ids[:, begin:end]
            logits = model(window).logits
            first = max(prev_end, begin + 1)  # the first token this window scores
            if end > first:
                nll_sum += F.cross_entropy(
                    logits[0, first - begin - 1 : end - begin - 1], input_ids[0, first:end], reduction="sum"
                ).item()
                n_tokens += end - first
            prev_end = end
            if end == N:
                break
    return math.exp(nll_sum / n_tokens)
