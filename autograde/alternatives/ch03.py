"""The valid alternatives of chapter 03_gpt_deep_dive's graded exercises (``llmcourse.grading.ch03``):
complete correct answers written differently from the solution, by the exercise's key in that
chapter's ``EXERCISES``.

The mutation suite (``make mutants``) grades each one and requires full marks; the class report
flags answers that are near-copies of them (``llmcourse.grading.similarity.course_code``); the
tests use them as known good answers. They live here, on the instructor's side, and not in
``llmcourse/grading/ch03.py``: that module is what the student's notebook imports, and
``autograde/`` is not part of the installed package. Read with
``llmcourse.grading.alternatives.alternatives_of`` (parsed, never run).
"""

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "causal_mask": (
        r'''import torch
def causal_mask(T):
    i = torch.arange(T)
    return i[:, None] >= i[None, :]
''',
        r'''import torch
def causal_mask(T):
    return ~torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
''',
        r'''import torch
def causal_mask(T):
    mask = torch.zeros(T, T, dtype=torch.bool)
    for i in range(T):
        mask[i, : i + 1] = True
    return mask
''',
    ),
    "causal_lm_loss": (
        r'''import torch
import torch.nn.functional as F
def causal_lm_loss(logits, input_ids, attention_mask=None):

    labels = input_ids[:, 1:].clone()
    if attention_mask is not None:
        labels[attention_mask[:, 1:] == 0] = -100
    V = logits.size(-1)
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), labels.reshape(-1), ignore_index=-100)
''',
        r'''import torch
import torch.nn.functional as F
def causal_lm_loss(logits, input_ids, attention_mask=None):

    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V)
    picked = log_probs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # (B, T-1)
    weight = torch.ones_like(picked) if attention_mask is None else attention_mask[:, 1:].to(picked.dtype)
    return -(picked * weight).sum() / weight.sum()
''',
        r'''import torch
import torch.nn.functional as F
def causal_lm_loss(logits, input_ids, attention_mask=None):

    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
    B, T, V = logits.shape
    per_token = loss_fn(logits[:, :-1].reshape(-1, V), input_ids[:, 1:].reshape(-1)).view(B, T - 1)
    if attention_mask is None:
        return per_token.mean()
    keep = attention_mask[:, 1:].bool()
    return per_token[keep].mean()
''',
    ),
    "block": (
        # The student's own causal_mask (a trusted one stands in while grading), -inf and empty rows zeroed.
        r'''import math
import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x, attention_mask=None):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.c_attn(x).split(C, dim=-1)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(C // H)
        allowed = causal_mask(T).to(x.device)
        if attention_mask is not None:
            allowed = allowed & attention_mask.bool()[:, None, None, :]
        scores = scores.masked_fill(~allowed, float('-inf'))
        y = scores.softmax(-1).nan_to_num(0.0) @ v
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x, attention_mask=None):
        x = x + self.attn(self.ln_1(x), attention_mask)
        x = x + self.mlp(self.ln_2(x))
        return x
''',
        # One module per sublayer with nn.Sequential and nn.GELU, heads with einsum, ch02's attention as a helper.
        r'''import math
from collections import OrderedDict
import torch
from torch import nn


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return torch.einsum("bhqk,bhkd->bhqd", weights, v), weights


class SelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=True)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=True)
        self.register_buffer("bias", torch.ones(config.block_size, config.block_size, dtype=torch.bool).tril(), persistent=False)

    def forward(self, x, attention_mask=None):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).unflatten(-1, (3, self.n_head, C // self.n_head)).permute(2, 0, 3, 1, 4)
        mask = self.bias[:T, :T]
        if attention_mask is not None:
            mask = mask & (attention_mask[:, None, None, :] == 1)
        y, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.c_proj(y.permute(0, 2, 1, 3).flatten(2))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        C = config.n_embd
        self.ln_1, self.ln_2 = nn.LayerNorm(C, eps=config.layer_norm_epsilon), nn.LayerNorm(C, eps=config.layer_norm_epsilon)
        self.attn = SelfAttention(config)
        self.mlp = nn.Sequential(OrderedDict(c_fc=nn.Linear(C, 4 * C), act=nn.GELU(approximate="tanh"), c_proj=nn.Linear(4 * C, C)))

    def forward(self, x, attention_mask=None):
        x = x + self.attn(self.ln_1(x), attention_mask)
        return x + self.mlp(self.ln_2(x))
''',
        # The tanh GELU written out, the scores one head at a time.
        r'''import math
import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x):
        h = self.c_fc(x)
        h = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))
        return self.c_proj(h)


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x, attention_mask=None):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.c_attn(x).split(C, dim=-1)
        d = C // H
        heads = []
        for h in range(H):
            qh, kh, vh = (t[..., h * d:(h + 1) * d] for t in (q, k, v))
            heads.append(qh @ kh.transpose(-2, -1) / math.sqrt(d))
        scores = torch.stack(heads, dim=1)
        v = v.view(B, T, H, d).transpose(1, 2)
        allowed = torch.ones(T, T, dtype=torch.bool).tril()
        if attention_mask is not None:
            allowed = allowed & attention_mask.bool()[:, None, None, :]
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        y = scores.softmax(-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x, attention_mask=None):
        x = x + self.attn(self.ln_1(x), attention_mask)
        x = x + self.mlp(self.ln_2(x))
        return x
''',
    ),
    "gpt": (
        # The blocks as one nn.Sequential, the head as F.linear with the embedding's weight, a masked mean.
        r'''import torch
import torch.nn.functional as F
from torch import nn


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.transformer.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.transformer.h = nn.Sequential(*[Block(config) for _ in range(config.n_layer)])
        self.transformer.ln_f = nn.LayerNorm(config.n_embd, eps=1e-5)

    def forward(self, idx, targets=None):
        T = idx.size(1)
        x = self.transformer.wte(idx) + self.transformer.wpe.weight[:T]  # (B, T, C) + (T, C)
        x = self.transformer.ln_f(self.transformer.h(x))
        logits = F.linear(x, self.transformer.wte.weight)  # the head is the embedding matrix
        if targets is None:
            return logits, None
        keep = targets != -100
        log_probs = logits.log_softmax(dim=-1)
        picked = log_probs.gather(-1, targets.masked_fill(~keep, 0).unsqueeze(-1)).squeeze(-1)
        return logits, -(picked * keep).sum() / keep.sum()
''',
        # nanoGPT's way round: the embedding takes the head's Parameter; blocks by index; nn.CrossEntropyLoss.
        r'''import torch
from torch import nn


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(config.vocab_size, config.n_embd),
            "wpe": nn.Embedding(config.block_size, config.n_embd),
            "h": nn.ModuleList(Block(config) for _ in range(config.n_layer)),
            "ln_f": nn.LayerNorm(config.n_embd),
        })
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        self.criterion = nn.CrossEntropyLoss(ignore_index=-100)

    def forward(self, idx, targets=None):
        positions = torch.arange(idx.shape[1], device=idx.device).unsqueeze(0)  # (1, T)
        h = self.transformer["wte"](idx) + self.transformer["wpe"](positions)
        for i in range(len(self.transformer["h"])):
            h = self.transformer["h"][i](h)
        logits = self.lm_head(self.transformer["ln_f"](h))
        loss = None if targets is None else self.criterion(logits.flatten(0, 1), targets.flatten())
        return logits, loss
''',
    ),
    "train_step": (
        # Gradients cleared at the end of the step, kept as zeros (set_to_none=False).
        r'''import torch


def train_step(model, batch, optimizer, max_grad_norm):
    inputs, targets = batch
    model.train()
    logits, loss = model(inputs, targets)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=False)
    return float(loss.detach())
''',
        # The global norm computed by hand, model.zero_grad() first.
        r'''import torch


def train_step(model, batch, optimizer, max_grad_norm):
    model.train()
    model.zero_grad(set_to_none=True)
    loss = model(*batch)[1]
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    total_norm = torch.sqrt(sum((g.detach() ** 2).sum() for g in grads))
    scale = torch.clamp(max_grad_norm / (total_norm + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)
    optimizer.step()
    return loss.item()
''',
    ),
}
