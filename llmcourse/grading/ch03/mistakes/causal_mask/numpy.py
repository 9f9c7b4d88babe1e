"""you return a NumPy array (np.tril): return a torch.Tensor (torch.tril, torch.ones)"""

import numpy as np


def causal_mask(T):
    return np.tril(np.ones((T, T), dtype=bool))
