"""your diagonal is False: a token must be allowed to attend to itself (otherwise the first token has nothing to attend to)"""

import torch


def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).tril(diagonal=-1)
