"""your top-p keeps the tokens whose own probability is at least p; top-p keeps the most likely tokens until their probabilities add up to p (the most likely one always)"""

import torch


def top_p_filter(logits, p):
    probs = torch.softmax(logits, dim=-1)
    return logits.masked_fill(probs < p, float("-inf"))
