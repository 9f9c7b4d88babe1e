"""Loops over the flattened batch and over each query, taking a softmax over that query's allowed
keys only, instead of one batched matrix product."""

import math
import torch


def scaled_dot_product_attention(q, k, v, mask=None):

    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    Tq, Tk = q.shape[-2], k.shape[-2]
    qf = q.expand(*batch, *q.shape[-2:]).reshape(-1, Tq, q.shape[-1])
    kf = k.expand(*batch, *k.shape[-2:]).reshape(-1, Tk, k.shape[-1])
    vf = v.expand(*batch, *v.shape[-2:]).reshape(-1, Tk, v.shape[-1])
    mf = None if mask is None else mask.expand(*batch, Tq, Tk).reshape(-1, Tq, Tk)
    outs, ws = [], []
    for b in range(qf.shape[0]):
        w = torch.zeros(Tq, Tk, dtype=q.dtype)
        for i in range(Tq):
            s = kf[b] @ qf[b, i] / math.sqrt(q.shape[-1])
            allowed = torch.ones(Tk, dtype=torch.bool) if mf is None else mf[b, i]
            if allowed.any():
                w[i, allowed] = torch.softmax(s[allowed], dim=0)
        ws.append(w)
        outs.append(w @ vf[b])
    return torch.stack(outs).reshape(*batch, Tq, -1), torch.stack(ws).reshape(*batch, Tq, Tk)
