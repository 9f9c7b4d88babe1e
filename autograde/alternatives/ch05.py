"""The valid alternatives of chapter 05_controlling_outputs's graded exercises (``llmcourse.grading.ch05``):
complete correct answers written differently from the solution, by the exercise's key in that
chapter's ``EXERCISES``.

The mutation suite (``make mutants``) grades each one and requires full marks; the class report
flags answers that are near-copies of them (``llmcourse.grading.similarity.course_code``); the
tests use them as known good answers. They live here, on the instructor's side, and not in
``llmcourse/grading/ch05.py``: that module is what the student's notebook imports, and
``autograde/`` is not part of the installed package. Read with
``llmcourse.grading.alternatives.alternatives_of`` (parsed, never run).
"""

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "temperature": (
        r'''
def apply_temperature(logits, temperature):
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits * (1.0 / temperature)
''',
        r'''
import torch

def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be strictly positive")
    rows = [row / temperature for row in logits]
    return torch.stack(rows)
''',
    ),
    "top_k": (
        r'''
def top_k_filter(logits, k):
    if not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k}")
    out = logits.clone()
    for b in range(logits.shape[0]):
        row = logits[b]
        kth = sorted(row.tolist(), reverse=True)[min(k, len(row)) - 1]
        out[b][row < kth] = float("-inf")
    return out
''',
        r'''
import torch

def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("top-k needs k >= 1")
    V = logits.shape[-1]
    if k >= V:
        return logits.clone()
    sorted_desc, _ = torch.sort(logits, dim=-1, descending=True)
    threshold = sorted_desc[:, k - 1].unsqueeze(-1)  # (B, 1)
    return torch.where(logits >= threshold, logits, torch.full_like(logits, float("-inf")))
''',
    ),
    "top_p": (
        r'''import torch

def top_p_filter(logits, p):
    if p < 0 or p > 1:
        raise ValueError("p must be in [0, 1]")
    if p == 1:
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = torch.cumsum(probs, dim=-1) - probs  # probability of the tokens ranked above
    remove_sorted = mass_before >= p
    remove_sorted[:, 0] = False  # keep the most likely token
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
''',
        r'''
import torch

def top_p_filter(logits, p):
    if not 0 <= p <= 1:
        raise ValueError(f"top_p must be between 0 and 1, got {p}")
    if p >= 1:
        return logits.clone()
    probs = torch.softmax(logits, dim=-1)
    out = torch.full_like(logits, float("-inf"))
    for b in range(logits.shape[0]):
        total = 0.0
        for i in torch.argsort(probs[b], descending=True).tolist():
            out[b, i] = logits[b, i]
            total += probs[b, i].item()
            if total >= p:
                break
    return out
''',
        r'''
import torch

def top_p_filter(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1)  # least likely first, as Hugging Face does
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= 1 - p
    remove[:, -1] = False
    return logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
''',
    ),
    "repetition_penalty": (
        r'''
def apply_repetition_penalty(logits, generated_ids, penalty):
    if penalty <= 0:
        raise ValueError("penalty must be positive")
    out = logits.clone()
    for b in range(logits.shape[0]):
        for token in set(generated_ids[b].tolist()):
            x = logits[b, token]
            out[b, token] = x / penalty if x > 0 else x * penalty
    return out
''',
        r'''
import torch

def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.zeros_like(logits, dtype=torch.bool)
    seen.scatter_(1, generated_ids, True)  # (B, V)
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)
''',
    ),
    "frequency_presence": (
        r'''
from collections import Counter

def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    out = logits.clone()
    for b, row in enumerate(generated_ids.tolist()):
        for token, count in Counter(row).items():
            out[b, token] = out[b, token] - count * frequency_penalty - presence_penalty
    return out
''',
        r'''
import torch
import torch.nn.functional as F

def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    V = logits.shape[-1]
    counts = F.one_hot(generated_ids, V).sum(dim=1).to(logits.dtype)  # (B, V)
    penalty = frequency_penalty * counts + presence_penalty * counts.clamp(max=1)
    return logits - penalty
''',
    ),
    "greedy": (
        r'''
import torch

def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    B, T = input_ids.shape
    out = torch.full((B, T + max_new_tokens), pad_token_id, dtype=torch.long)
    out[:, :T] = input_ids
    alive = torch.ones(B, dtype=torch.bool)
    n = 0
    with torch.no_grad():
        for step in range(max_new_tokens):
            result = model(out[:, : T + step])
            logits = result[0] if isinstance(result, tuple) else result.logits
            tok = logits[:, -1, :].argmax(dim=-1)
            tok = torch.where(alive, tok, torch.full_like(tok, pad_token_id))
            out[:, T + step] = tok
            n = step + 1
            if eos_token_id is not None:
                alive = alive & (tok != eos_token_id)
                if not alive.any():
                    break
    return out[:, : T + n]
''',
        r'''
import torch
from llmcourse.models import logits_fn

def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    logits_of = logits_fn(model)
    rows = []
    for prompt in input_ids.tolist():
        seq = list(prompt)
        for _ in range(max_new_tokens):
            with torch.no_grad():
                logits = logits_of(torch.tensor([seq]))[0, -1]
            seq.append(int(logits.argmax()))
            if seq[-1] == eos_token_id:
                break
        rows.append(seq)
    longest = max(len(seq) for seq in rows)
    return torch.tensor([seq + [pad_token_id] * (longest - len(seq)) for seq in rows])
''',
    ),
    "cached": (
        r'''
import torch
from transformers import DynamicCache

def generate_with_cache(model, idx, max_new_tokens):
    cache = DynamicCache()  # empty: the first forward fills it with the prompt, each later one adds a position
    inp = idx
    new = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(input_ids=inp, past_key_values=cache, use_cache=True).logits
            inp = logits[:, -1, :].argmax(dim=-1, keepdim=True)  # (B, 1): the next input is the new token alone
            new.append(inp)
    return torch.cat([idx, *new], dim=1)
''',
        r'''
import torch

@torch.no_grad()
def generate_with_cache(model, idx, max_new_tokens):
    ids = idx.clone()
    past = None
    while ids.shape[1] < idx.shape[1] + max_new_tokens:
        out = model(ids if past is None else ids[:, -1:], past_key_values=past, use_cache=True)
        past = out.past_key_values
        ids = torch.cat([ids, out.logits[:, -1].argmax(-1)[:, None]], dim=1)
    return ids
''',
    ),
    "beam_search": (
        r'''import torch
from llmcourse.models import logits_fn

def beam_search(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0):
    logits_of = logits_fn(model)
    best = []
    for prompt in input_ids:  # each prompt on its own
        beams = prompt[None, :]  # (1, T): a single beam to start with
        scores = torch.zeros(1)  # the sum of the log-probs of each beam's tokens
        for _ in range(max_new_tokens):
            with torch.no_grad():
                logits = logits_of(beams)[:, -1, :].float()  # (beams, V)
            log_probs = torch.log_softmax(logits, dim=-1)  # (beams, V)
            totals = scores[:, None] + log_probs  # (beams, V)
            V = totals.shape[1]
            scores, idx = totals.flatten().topk(num_beams)
            beams = torch.cat([beams[idx // V], (idx % V)[:, None]], dim=1)
        best.append(beams[0])
    return torch.stack(best)
''',
        r'''
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
''',
        r'''
import math
import torch
from llmcourse.models import logits_fn

def beam_search(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0):
    logits_of = logits_fn(model)
    results = []
    for prompt in input_ids.tolist():
        beams = [(0.0, prompt)]  # (sum of log-probs, token list)
        for _ in range(max_new_tokens):
            with torch.no_grad():
                logits = logits_of(torch.tensor([seq for _, seq in beams]))[:, -1, :]
            log_probs = torch.log_softmax(logits.double(), dim=-1)
            candidates = []
            for (score, seq), row in zip(beams, log_probs):
                values, tokens = row.topk(num_beams)  # a beam's best num_beams tokens are enough
                candidates += [(score + v, seq + [t]) for v, t in zip(values.tolist(), tokens.tolist())]
            candidates.sort(key=lambda c: c[0], reverse=True)
            beams = candidates[:num_beams]
        results.append(beams[0][1])
    return torch.tensor(results)
''',
    ),
    "generate_until": (
        r'''
import torch

def generate_until(model, tokenizer, prompt, stop, max_new_tokens, next_token=None):
    if isinstance(stop, str):
        stop = [stop]
    ids = tokenizer.encode(prompt, return_tensors="pt")
    prompt_text = tokenizer.decode(ids[0])
    generated = ""
    for _ in range(max_new_tokens):
        with torch.no_grad():
            out = model(ids)
        logits = (out[0] if isinstance(out, tuple) else out.logits)[:, -1, :]
        tok = next_token(logits, ids) if next_token is not None else torch.argmax(logits, dim=-1)
        if int(tok) == tokenizer.eos_token_id:
            break
        ids = torch.cat([ids, tok.reshape(1, 1)], dim=1)
        generated = tokenizer.decode(ids[0])[len(prompt_text):]
        positions = [generated.find(s) for s in stop]
        positions = [p for p in positions if p >= 0]
        if positions:
            return generated[: min(positions)]
    return generated
''',
        r'''
import re
import torch
from llmcourse.models import logits_fn

def generate_until(model, tokenizer, prompt, stop, max_new_tokens, next_token=None):
    stops = [stop] if isinstance(stop, str) else stop
    pattern = re.compile("|".join(re.escape(s) for s in stops))
    logits_of = logits_fn(model)
    prompt_ids = tokenizer(prompt)["input_ids"]
    new_ids = []
    for _ in range(max_new_tokens):
        ids = torch.tensor([prompt_ids + new_ids])
        with torch.no_grad():
            logits = logits_of(ids)[:, -1, :]
        choice = next_token(logits, ids) if next_token else logits.argmax(-1)
        token = int(choice[0])
        if token == tokenizer.eos_token_id:
            break
        new_ids.append(token)
        match = pattern.search(tokenizer.decode(new_ids))
        if match:
            return tokenizer.decode(new_ids)[: match.start()]
    return tokenizer.decode(new_ids)
''',
    ),
}
