"""A while loop over windows that scores token by token from the first one not yet scored, in float64."""

import math
import torch
from llmcourse.models import logits_fn


def sliding_window_perplexity(model, input_ids, max_length, stride):
    logits_of = logits_fn(model)
    ids = input_ids[0]
    N = len(ids)
    total, scored = 0.0, 0
    start, next_to_score = 0, 1
    with torch.no_grad():
        while next_to_score < N:
            end = min(start + max_length, N)
            log_probs = torch.log_softmax(logits_of(ids[start:end][None])[0].double(), dim=-1)
            for t in range(next_to_score, end):
                total -= log_probs[t - 1 - start, ids[t]].item()  # position t-1 predicts token t
                scored += 1
            next_to_score = end
            start += stride
    return math.exp(total / scored)
