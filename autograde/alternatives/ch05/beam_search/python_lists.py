"""Keeps the beams as Python (score, token list) pairs, extends each by its num_beams best tokens
in float64 and sorts the candidates."""

import math
import torch
from llmcourse.models import logits_fn


def beam_search(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0):
    logits_of = logits_fn(model)
    results = []
    for prompt in input_ids.tolist():
        beams = [(0.0, prompt)]  # (sum of log-probs, token list)
        for _ in range(max_new_tokens):
            with torch.no_grad():
                logits = logits_of(torch.tensor([seq for _, seq in beams]))[:, -1, :]
            log_probs = torch.log_softmax(logits.double(), dim=-1)
            candidates = []
            for (score, seq), row in zip(beams, log_probs):
                values, tokens = row.topk(num_beams)  # a beam's best num_beams tokens are enough
                candidates += [(score + v, seq + [t]) for v, t in zip(values.tolist(), tokens.tolist())]
            candidates.sort(key=lambda c: c[0], reverse=True)
            beams = candidates[:num_beams]
        results.append(beams[0][1])
    return torch.tensor(results)
