"""The valid alternatives of chapter 02_transformer_anatomy's graded exercises (``llmcourse.grading.ch02``):
complete correct answers written differently from the solution, by the exercise's key in that
chapter's ``EXERCISES``.

The mutation suite (``make mutants``) grades each one and requires full marks; the class report
flags answers that are near-copies of them (``llmcourse.grading.similarity.course_code``); the
tests use them as known good answers. They live here, on the instructor's side, and not in
``llmcourse/grading/ch02.py``: that module is what the student's notebook imports, and
``autograde/`` is not part of the installed package. Read with
``llmcourse.grading.alternatives.alternatives_of`` (parsed, never run).
"""

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "positional_encoding": (
        r'''
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pe = torch.zeros(num_positions, d_model)
    for pos in range(num_positions):
        for i in range(d_model):
            angle = pos / (10000 ** ((i - i % 2) / d_model))
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe
''',
        r'''
import math, torch
def sinusoidal_positional_encoding(num_positions, d_model):
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angles = pos * torch.exp(-two_i * math.log(10000) / d_model)
    pe = torch.empty(num_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = angles.sin()
    pe[:, 1::2] = angles.cos()[:, : d_model // 2]
    return pe
''',
    ),
    "attention": (
        r'''import math, torch
def scaled_dot_product_attention(q, k, v, mask=None):

    scores = torch.einsum("...qd,...kd->...qk", q, k) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return torch.einsum("...qk,...kv->...qv", weights, v), weights
''',
        r'''import math, torch
def scaled_dot_product_attention(q, k, v, mask=None):

    scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(k.size(-1)))
    exp = torch.exp(scores - scores.amax(-1, keepdim=True))
    if mask is not None:
        exp = torch.where(mask, exp, torch.zeros_like(exp))
    total = exp.sum(-1, keepdim=True)
    weights = exp / torch.where(total == 0, torch.ones_like(total), total)
    return weights @ v, weights
''',
        r'''import math, torch
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
''',
    ),
    "multi_head_attention": (
        r'''import math, torch
from torch import nn
class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query, key, value, mask=None):
        B, Tq, E = query.shape

        H = self.num_heads
        q = self.q_proj(query).unflatten(-1, (H, -1))  # (B, Tq, H, d)
        k = self.k_proj(key).unflatten(-1, (H, -1))
        v = self.v_proj(value).unflatten(-1, (H, -1))
        s = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        w = s.softmax(-1)
        return self.out_proj(torch.einsum("bhqk,bkhd->bqhd", w, v).reshape(B, Tq, E)), w
''',
        r'''import math, torch
from torch import nn
class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query, key, value, mask=None):
        B, Tq, E = query.shape
        split = lambda x: x.view(B, -1, self.num_heads, self.head_dim).transpose(1, 2)

        heads, w = scaled_dot_product_attention(split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask)
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
''',
    ),
}
