"""your score_choices predicts every token of a choice from the context alone: token k of the choice is predicted after the context and the choice's tokens before k (feed context + choice to the model)"""

import torch
import torch.nn.functional as F


def score_choices(logits_fn, context_ids, choice_ids):
    log_probs = F.log_softmax(logits_fn(torch.tensor([context_ids]))[0, -1].float(), dim=-1)  # (V,): the next token
    return [sum(log_probs[token].item() for token in choice) for choice in choice_ids]
