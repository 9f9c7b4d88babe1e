"""you slice the mask from a buffer of a fixed size (128 x 128), too small for a longer sequence: build it for the T you are given"""

import torch

_MASK = torch.ones(128, 128, dtype=torch.bool).tril()


def causal_mask(T):
    return _MASK[:T, :T]
