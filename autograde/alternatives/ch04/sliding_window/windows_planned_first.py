"""Plans every window and the first token it scores before running the model, then takes the mean of all the tokens' NLLs concatenated."""

import math
import torch
from llmcourse.models import logits_fn


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.shape[-1]
    windows, scored_up_to = [], 1  # the first token is never scored
    for begin in range(0, N, stride):
        end = min(begin + max_length, N)
        windows.append((begin, end, scored_up_to))
        scored_up_to = end
        if end == N:
            break
    logits_of = logits_fn(model)
    nlls = []
    with torch.no_grad():
        for begin, end, first in windows:
            log_probs = logits_of(input_ids[:, begin:end]).float().log_softmax(-1)[0]  # (W, V)
            rows = torch.arange(first - 1 - begin, end - 1 - begin)
            nlls.append(-log_probs[rows, input_ids[0, first:end]])
    return torch.cat(nlls).mean().exp().item()
