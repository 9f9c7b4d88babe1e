"""you skip every token with id 0 instead of the padding the attention_mask marks; real text can contain the pad id (GPT-2 pads with its end-of-text token, which also separates documents)"""

import torch
import torch.nn.functional as F


def causal_lm_loss(logits, input_ids, attention_mask=None):

    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), input_ids[:, 1:].reshape(-1), ignore_index=0)
