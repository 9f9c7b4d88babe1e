"""Runs the beams of every prompt as one batch of B * num_beams sequences, each prompt's copies but
the first starting at a score of -1e9 so that one beam is alive at the start."""

import torch
import torch.nn.functional as F


def beam_search(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0):
    B, T = input_ids.shape
    N = num_beams
    seqs = input_ids.repeat_interleave(N, dim=0)  # (B * N, T)
    scores = torch.full((B, N), -1e9)
    scores[:, 0] = 0.0  # only the first copy of each prompt is alive at the start
    with torch.no_grad():
        for _ in range(max_new_tokens):
            out = model(seqs)
            logits = (out[0] if isinstance(out, tuple) else out.logits)[:, -1, :].float()
            V = logits.shape[-1]
            total = F.log_softmax(logits, dim=-1).view(B, N, V) + scores[:, :, None]
            scores, idx = total.view(B, N * V).topk(N, dim=-1)  # (B, N)
            source = idx // V + torch.arange(B)[:, None] * N  # (B, N): rows of seqs
            seqs = torch.cat([seqs[source.flatten()], (idx % V).reshape(-1, 1)], dim=1)
    return seqs.view(B, N, -1)[:, 0]
