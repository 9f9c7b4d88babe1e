'''Draft catalogue of chapter 05's graded functions: realistic wrong answers and valid alternatives.

``MISTAKES[name]`` lists ``(mistake_id, message, code)``: ``code`` is a complete answer a student
could hand in (imports included) defining ``name`` with one realistic bug, and ``message`` names
that bug for the student. ``ALTERNATIVES[name]`` lists valid answers written differently from the
reference (:mod:`llmcourse.decoding`), which must get full marks. tests/test_draft_ch05_catalogue.py
checks that every mistake gives a different result from the oracle (Hugging Face's logits
processors and ``generate``, a loop for the OpenAI penalties, a streaming search over the tokens
``generate`` produces for stop strings) on some realistic input, and that every alternative
agrees with it on random inputs of several shapes.

The answers take what the graded exercises pass:
    ``apply_temperature(logits, temperature)``, ``top_k_filter(logits, k)``, ``top_p_filter(logits, p)``:
        ``logits (B, V)``; they return new logits ``(B, V)`` with ``-inf`` for removed tokens and
        raise ``ValueError`` where Hugging Face does (temperature <= 0, k <= 0).
    ``apply_repetition_penalty(logits, generated_ids, penalty)``,
    ``apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty)``:
        ``generated_ids (B, t)``.
    ``greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0)``,
    ``beam_search(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0, eos_token_id=None)``:
        a causal LM (Hugging Face here; the answers call it through ``llmcourse.models.logits_fn``,
        which the chapter provides, or handle both output kinds themselves) and ``input_ids (B, T)``.
    ``generate_until(model, tokenizer, prompt, stop, max_new_tokens, next_token=None) -> str``.

Several answers are written once and varied by replacing a line (:func:`_variant`): each
resulting string is still a complete, self-contained answer.
'''
from __future__ import annotations


def _variant(code: str, *replacements: tuple[str, str]) -> str:
    """``code`` with each ``old`` replaced by ``new``; each ``old`` must occur exactly once."""
    for old, new in replacements:
        if code.count(old) != 1:
            raise ValueError(f"{old!r} occurs {code.count(old)} times in the template")
        code = code.replace(old, new)
    return code


# ======================================================================================
# apply_temperature
# ======================================================================================

TEMPERATURE_MISTAKES = [
    (
        "multiplies",
        "your temperature multiplies the logits by T; it divides them (logits / T), so that T < 1 "
        "sharpens the distribution and T > 1 flattens it",
        """import torch


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return logits * temperature
""",
    ),
    (
        "after_softmax",
        "your temperature divides the probabilities (after softmax); it divides the logits, before "
        "softmax, and the function returns logits",
        """import torch


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    probs = torch.softmax(logits, dim=-1)
    return probs / temperature
""",
    ),
    (
        "returns_probabilities",
        "your temperature returns probabilities (the softmax of the scaled logits); return the scaled "
        "logits themselves: the sampler applies softmax after all the processors",
        """import torch
import torch.nn.functional as F


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return F.softmax(logits / temperature, dim=-1)
""",
    ),
    (
        "no_error_for_zero",
        "your temperature divides by zero for temperature 0 (and accepts negative ones); raise "
        "ValueError for temperature <= 0, as Hugging Face's TemperatureLogitsWarper does",
        """def apply_temperature(logits, temperature):
    return logits / temperature
""",
    ),
    (
        "zero_means_greedy",
        "your temperature turns temperature 0 into greedy decoding; Hugging Face raises ValueError for "
        "temperature <= 0 (greedy decoding is a decoding strategy of its own, do_sample=False)",
        """import torch


def apply_temperature(logits, temperature):
    if temperature < 0:
        raise ValueError("temperature must not be negative")
    if temperature == 0:
        best = logits.argmax(dim=-1, keepdim=True)
        out = torch.full_like(logits, float("-inf"))
        return out.scatter(-1, best, logits.gather(-1, best))
    return logits / temperature
""",
    ),
    (
        "modifies_input",
        "your temperature divides the caller's logits in place (logits /= T): return a new tensor "
        "and leave the input unchanged",
        """def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    logits /= temperature
    return logits
""",
    ),
]

TEMPERATURE_ALTERNATIVES = [
    # multiply by the inverse
    """def apply_temperature(logits, temperature):
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits * (1.0 / temperature)
""",
    # one row at a time
    """import torch


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be strictly positive")
    rows = [row / temperature for row in logits]
    return torch.stack(rows)
""",
]


# ======================================================================================
# top_k_filter
# ======================================================================================

TOP_K_MISTAKES = [
    (
        "keeps_k_minus_1",
        "your top-k keeps k - 1 tokens: it removes the k-th largest logit too (<= instead of <)",
        """import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.sort(logits, dim=-1, descending=True).values[:, k - 1 : k]
    return logits.masked_fill(logits <= kth, float("-inf"))
""",
    ),
    (
        "drops_ties",
        "your top-k keeps exactly the k indices torch.topk returns; Hugging Face keeps every logit equal "
        "to the k-th largest, so tied tokens all stay",
        """import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    values, indices = torch.topk(logits, k, dim=-1)
    out = torch.full_like(logits, float("-inf"))
    return out.scatter(-1, indices, values)
""",
    ),
    (
        "keeps_k_plus_1",
        "your top-k keeps k + 1 tokens: the threshold is the (k+1)-th largest logit (index k of the "
        "sorted logits; index k - 1 is the k-th)",
        """import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    if k >= logits.shape[-1]:
        return logits.clone()
    sorted_logits = torch.sort(logits, dim=-1, descending=True).values
    threshold = sorted_logits[:, k].unsqueeze(-1)
    return logits.masked_fill(logits < threshold, float("-inf"))
""",
    ),
    (
        "ascending_sort",
        "your top-k sorts in ascending order (torch.sort's default), so its threshold is the k-th "
        "smallest logit and it keeps the V - k + 1 largest; sort with descending=True",
        """import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    sorted_logits, _ = torch.sort(logits, dim=-1)
    kth = sorted_logits[:, k - 1 : k]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
    ),
    (
        "fills_zero",
        "your top-k sets the removed logits to 0, which still has a probability after softmax (more "
        "than a negative logit!); set them to -inf",
        """import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return torch.where(logits < kth, torch.zeros_like(logits), logits)
""",
    ),
    (
        "returns_probabilities",
        "your top-k returns the renormalised probabilities of the k tokens; return the logits with "
        "-inf for the removed tokens (the sampler applies softmax after all the processors)",
        """import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    filtered = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(filtered, dim=-1)
""",
    ),
    (
        "zero_disables",
        "your top-k treats k = 0 as 'no filtering'; generate's top_k=0 means that, but the filter "
        "itself (TopKLogitsWarper) raises ValueError for k <= 0, and so should yours",
        """import torch


def top_k_filter(logits, k):
    if k <= 0 or k >= logits.shape[-1]:
        return logits.clone()
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
    ),
]

TOP_K_ALTERNATIVES = [
    # a Python loop over rows, threshold from sorted()
    """def top_k_filter(logits, k):
    if not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k}")
    out = logits.clone()
    for b in range(logits.shape[0]):
        row = logits[b]
        kth = sorted(row.tolist(), reverse=True)[min(k, len(row)) - 1]
        out[b][row < kth] = float("-inf")
    return out
""",
    # descending sort, torch.where
    """import torch


def top_k_filter(logits, k):
    if k <= 0:
        raise ValueError("top-k needs k >= 1")
    V = logits.shape[-1]
    if k >= V:
        return logits.clone()
    sorted_desc, _ = torch.sort(logits, dim=-1, descending=True)
    threshold = sorted_desc[:, k - 1].unsqueeze(-1)  # (B, 1)
    return torch.where(logits >= threshold, logits, torch.full_like(logits, float("-inf")))
""",
]


# ======================================================================================
# top_p_filter
# ======================================================================================

# A correct answer in the descending formulation, varied below.
_TOP_P = """import torch


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
"""

TOP_P_MISTAKES = [
    (
        "drops_crossing_token",
        "your top-p removes the token whose probability makes the total cross p; Hugging Face keeps it "
        "(the kept set is the smallest whose probabilities add up to at least p)",
        """import torch


def top_p_filter(logits, p):
    if p < 0 or p > 1:
        raise ValueError("p must be in [0, 1]")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative > p
    remove_sorted[:, 0] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
""",
    ),
    (
        "ascending_sort",
        "your top-p sorts in ascending order, so the running total starts from the least likely tokens "
        "and the most likely ones are removed; sort with descending=True (or, like Hugging Face, remove "
        "the tokens whose ascending total stays at or below 1 - p)",
        _variant(
            _TOP_P,
            ("torch.sort(logits, dim=-1, descending=True)", "torch.sort(logits, dim=-1)"),
        ),
    ),
    (
        "mask_not_unsorted",
        "your top-p applies the mask computed in sorted order directly to the logits in vocabulary "
        "order; scatter it back with the sort's indices first",
        _variant(
            _TOP_P,
            ("    remove = remove_sorted.scatter(-1, order, remove_sorted)\n", ""),
            ("logits.masked_fill(remove, ", "logits.masked_fill(remove_sorted, "),
        ),
    ),
    (
        "cumsum_of_logits",
        "your top-p adds up the logits instead of the probabilities; apply softmax before the "
        "cumulative sum",
        _variant(_TOP_P, ("probs = torch.softmax(sorted_logits, dim=-1)", "probs = sorted_logits")),
    ),
    (
        "softmax_over_batch",
        "your top-p takes the softmax over the batch dimension (dim=0); each row's probabilities are "
        "a softmax over its vocabulary (dim=-1)",
        _variant(_TOP_P, ("probs = torch.softmax(sorted_logits, dim=-1)", "probs = torch.softmax(sorted_logits, dim=0)")),
    ),
    (
        "returns_probabilities",
        "your top-p returns probabilities with zeros for the removed tokens; return the logits with "
        "-inf for them (the sampler applies softmax after all the processors)",
        _variant(
            _TOP_P,
            (
                "return logits.masked_fill(remove, float(\"-inf\"))",
                "return torch.softmax(logits, dim=-1).masked_fill(remove, 0.0)",
            ),
        ),
    ),
    (
        "removes_everything_for_p0",
        "your top-p removes every token when p = 0 (the mass before the most likely token, 0, is "
        "already >= p); the most likely token must always stay",
        _variant(_TOP_P, ("    remove_sorted[:, 0] = False  # keep the most likely token\n", "")),
    ),
]

TOP_P_ALTERNATIVES = [
    _TOP_P,
    # a Python loop: add tokens from the most likely until the total reaches p
    """import torch


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
""",
]


# ======================================================================================
# apply_repetition_penalty
# ======================================================================================

REPETITION_MISTAKES = [
    (
        "once_per_occurrence",
        "your repetition penalty is applied once per occurrence, so a token seen three times is "
        "penalised three times; Hugging Face penalises each distinct token once",
        """def apply_repetition_penalty(logits, generated_ids, penalty):
    out = logits.clone()
    for b in range(out.shape[0]):
        for token in generated_ids[b].tolist():
            if out[b, token] > 0:
                out[b, token] = out[b, token] / penalty
            else:
                out[b, token] = out[b, token] * penalty
    return out
""",
    ),
    (
        "always_divides",
        "your repetition penalty divides every seen logit by the penalty; a negative logit divided by "
        "1.3 gets *larger* (more likely): multiply negative logits, divide positive ones",
        """import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.gather(logits, 1, generated_ids)
    return logits.scatter(1, generated_ids, seen / penalty)
""",
    ),
    (
        "sign_swapped",
        "your repetition penalty multiplies positive logits and divides negative ones, which makes "
        "seen tokens *more* likely; divide positive logits, multiply negative ones",
        """import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.gather(logits, 1, generated_ids)
    seen = torch.where(seen > 0, seen * penalty, seen / penalty)
    return logits.scatter(1, generated_ids, seen)
""",
    ),
    (
        "batch_mixed",
        "your repetition penalty penalises, in every row, the tokens seen in any row of the batch; "
        "each sequence is penalised for its own tokens only",
        """import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    out = logits.clone()
    for token in set(generated_ids.flatten().tolist()):
        column = out[:, token]
        out[:, token] = torch.where(column < 0, column * penalty, column / penalty)
    return out
""",
    ),
    (
        "subtracts",
        "your repetition penalty subtracts the penalty from the logits; the CTRL penalty is "
        "multiplicative: divide positive logits by it, multiply negative ones",
        """import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, generated_ids, True)
    return torch.where(seen, logits - penalty, logits)
""",
    ),
    (
        "modifies_input",
        "your repetition penalty changes the caller's logits in place; return a new tensor and "
        "leave the input unchanged",
        """def apply_repetition_penalty(logits, generated_ids, penalty):
    for b in range(logits.shape[0]):
        for token in set(generated_ids[b].tolist()):
            if logits[b, token] < 0:
                logits[b, token] *= penalty
            else:
                logits[b, token] /= penalty
    return logits
""",
    ),
]

REPETITION_ALTERNATIVES = [
    # a loop over the distinct tokens of each row
    """def apply_repetition_penalty(logits, generated_ids, penalty):
    if penalty <= 0:
        raise ValueError("penalty must be positive")
    out = logits.clone()
    for b in range(logits.shape[0]):
        for token in set(generated_ids[b].tolist()):
            x = logits[b, token]
            out[b, token] = x / penalty if x > 0 else x * penalty
    return out
""",
    # a boolean mask of the seen tokens
    """import torch


def apply_repetition_penalty(logits, generated_ids, penalty):
    seen = torch.zeros_like(logits, dtype=torch.bool)
    seen.scatter_(1, generated_ids, True)  # (B, V)
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)
""",
]


# ======================================================================================
# apply_frequency_presence_penalties
# ======================================================================================

FREQUENCY_PRESENCE_MISTAKES = [
    (
        "presence_per_occurrence",
        "your presence penalty is subtracted once per occurrence; it is paid once for any token that "
        "occurs at all (only the frequency penalty grows with the count)",
        """import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    counts = torch.zeros_like(logits)
    counts.scatter_add_(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits - counts * (frequency_penalty + presence_penalty)
""",
    ),
    (
        "scatter_not_add",
        "your frequency penalty does not grow with the count: scatter_ writes 1 for a token however "
        "often it occurs; count with scatter_add_ (or bincount)",
        """import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    counts = torch.zeros_like(logits)
    counts.scatter_(1, generated_ids, 1.0)
    present = (counts > 0).float()
    return logits - counts * frequency_penalty - present * presence_penalty
""",
    ),
    (
        "adds_penalties",
        "your penalties are added to the logits, which makes repeated tokens *more* likely; the OpenAI "
        "API subtracts them",
        """import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits + counts * frequency_penalty + (counts > 0).float() * presence_penalty
""",
    ),
    (
        "swapped",
        "your penalties are swapped: the frequency penalty is multiplied by the count, the presence "
        "penalty is paid once per token that occurs",
        """import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    counts = torch.zeros_like(logits).scatter_add(1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    return logits - counts * presence_penalty - (counts > 0).float() * frequency_penalty
""",
    ),
    (
        "batch_counts",
        "your penalties count the tokens of the whole batch; each row counts its own generated tokens",
        """import torch


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    counts = torch.bincount(generated_ids.flatten(), minlength=logits.shape[-1]).to(logits.dtype)  # (V,)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
""",
    ),
    (
        "modifies_input",
        "your penalties change the caller's logits in place; return a new tensor and leave the input "
        "unchanged",
        """from collections import Counter


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    for b, row in enumerate(generated_ids.tolist()):
        for token, count in Counter(row).items():
            logits[b, token] -= count * frequency_penalty + presence_penalty
    return logits
""",
    ),
]

FREQUENCY_PRESENCE_ALTERNATIVES = [
    # a Counter per row
    """from collections import Counter


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    out = logits.clone()
    for b, row in enumerate(generated_ids.tolist()):
        for token, count in Counter(row).items():
            out[b, token] = out[b, token] - count * frequency_penalty - presence_penalty
    return out
""",
    # one-hot counts
    """import torch
import torch.nn.functional as F


def apply_frequency_presence_penalties(logits, generated_ids, frequency_penalty, presence_penalty):
    V = logits.shape[-1]
    counts = F.one_hot(generated_ids, V).sum(dim=1).to(logits.dtype)  # (B, V)
    penalty = frequency_penalty * counts + presence_penalty * counts.clamp(max=1)
    return logits - penalty
""",
]


# ======================================================================================
# greedy_decode
# ======================================================================================

_GREEDY = """import torch
from llmcourse.models import logits_fn


def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    logits_of = logits_fn(model)
    ids = input_ids
    finished = torch.zeros(ids.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_tok = logits_of(ids)[:, -1, :].argmax(dim=-1)
            if eos_token_id is not None:
                next_tok[finished] = pad_token_id
                finished = finished | (next_tok == eos_token_id)
            ids = torch.cat([ids, next_tok[:, None]], dim=1)
            if eos_token_id is not None and finished.all():
                break
    return ids
"""

GREEDY_MISTAKES = [
    (
        "no_padding_after_eos",
        "your greedy decoding keeps generating real tokens after a sequence's end token; once a "
        "sequence has produced eos_token_id, it gets pad_token_id at every later step",
        _variant(_GREEDY, ("                next_tok[finished] = pad_token_id\n", "")),
    ),
    (
        "stops_at_first_eos",
        "your greedy decoding stops the whole batch as soon as one sequence produces the end token; "
        "the others go on (the finished ones get padding) until every sequence has ended",
        _variant(_GREEDY, ("if eos_token_id is not None and finished.all():", "if eos_token_id is not None and finished.any():")),
    ),
    (
        "pads_with_eos",
        "your greedy decoding fills finished sequences with the end token; use pad_token_id after it",
        _variant(_GREEDY, ("next_tok[finished] = pad_token_id", "next_tok[finished] = eos_token_id")),
    ),
    (
        "never_stops_early",
        "your greedy decoding always runs max_new_tokens steps; stop as soon as every sequence has "
        "produced the end token (Hugging Face returns the shorter tensor)",
        _variant(_GREEDY, ("            if eos_token_id is not None and finished.all():\n                break\n", "")),
    ),
    (
        "drops_prompt",
        "your greedy decoding returns only the new tokens; return the prompt followed by them, (B, T + n)",
        _variant(_GREEDY, ("    return ids\n", "    return ids[:, input_ids.shape[1]:]\n")),
    ),
    (
        "eos_not_appended",
        "your greedy decoding stops before appending the end token that finishes the last sequence; "
        "the end token is part of the output",
        """import torch
from llmcourse.models import logits_fn


def greedy_decode(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=0):
    logits_of = logits_fn(model)
    ids = input_ids
    finished = torch.zeros(ids.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_tok = logits_of(ids)[:, -1, :].argmax(dim=-1)
            if eos_token_id is not None:
                next_tok[finished] = pad_token_id
                finished = finished | (next_tok == eos_token_id)
                if finished.all():
                    break
            ids = torch.cat([ids, next_tok[:, None]], dim=1)
    return ids
""",
    ),
]

GREEDY_ALTERNATIVES = [
    # a preallocated output filled with padding
    """import torch


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
""",
    # one sequence at a time, padded to the longest at the end
    """import torch
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
""",
]


# ======================================================================================
# beam_search
# ======================================================================================

# A correct answer that keeps the beams in a Python list (starting from the prompt alone), varied below.
_BEAM = """import torch
from llmcourse.models import logits_fn


def beam_search(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0, eos_token_id=None):
    logits_of = logits_fn(model)
    best = []
    for prompt in input_ids:
        beams = [(torch.tensor(0.0), prompt)]  # (sum of log-probs, sequence)
        finished = []  # (score, sequence) of ended hypotheses, best first
        for step in range(1, max_new_tokens + 1):
            with torch.no_grad():
                logits = logits_of(torch.stack([seq for _, seq in beams]))[:, -1, :].float()
            log_probs = torch.log_softmax(logits, dim=-1)  # (beams, V)
            totals = torch.stack([score for score, _ in beams])[:, None] + log_probs
            V = totals.shape[1]
            top, idx = totals.flatten().topk(2 * num_beams)
            next_beams = []
            for rank, (score, i) in enumerate(zip(top, idx.tolist())):
                seq = torch.cat([beams[i // V][1], torch.tensor([i % V])])
                if step == max_new_tokens or i % V == eos_token_id:
                    if rank < num_beams:
                        finished.append((score / step ** length_penalty, seq))
                elif len(next_beams) < num_beams:
                    next_beams.append((score, seq))
            finished = sorted(finished, key=lambda h: h[0].item(), reverse=True)[:num_beams]
            if step == max_new_tokens:
                break
            beams = next_beams
            if len(finished) == num_beams and beams[0][0] / step ** length_penalty <= finished[-1][0]:
                break
        best.append(finished[0][1])
    longest = max(len(seq) for seq in best)
    pad = -1 if eos_token_id is None else eos_token_id
    out = torch.full((len(best), longest), pad, dtype=torch.long)
    for b, seq in enumerate(best):
        out[b, : len(seq)] = seq
    return out
"""

BEAM_MISTAKES = [
    (
        "multiplies_probabilities",
        "your beam search multiplies probabilities instead of adding log-probabilities: the product "
        "ranks beams the same way but underflows, and dividing it by length ** length_penalty is not "
        "Hugging Face's score (sum of log-probs / length ** length_penalty)",
        _variant(
            _BEAM,
            ("beams = [(torch.tensor(0.0), prompt)]", "beams = [(torch.tensor(1.0), prompt)]"),
            ("log_probs = torch.log_softmax(logits, dim=-1)  # (beams, V)", "probs = torch.softmax(logits, dim=-1)  # (beams, V)"),
            ("totals = torch.stack([score for score, _ in beams])[:, None] + log_probs", "totals = torch.stack([score for score, _ in beams])[:, None] * probs"),
        ),
    ),
    (
        "sums_probabilities",
        "your beam search adds probabilities; a sequence's probability is the product of its tokens' "
        "probabilities, so add their log-probabilities",
        _variant(
            _BEAM,
            ("log_probs = torch.log_softmax(logits, dim=-1)  # (beams, V)", "probs = torch.softmax(logits, dim=-1)  # (beams, V)"),
            ("totals = torch.stack([score for score, _ in beams])[:, None] + log_probs", "totals = torch.stack([score for score, _ in beams])[:, None] + probs"),
        ),
    ),
    (
        "length_includes_prompt",
        "your beam search divides a finished hypothesis' score by its whole length to the power "
        "length_penalty, prompt included; Hugging Face uses the generated length (end token included)",
        _variant(_BEAM, ("finished.append((score / step ** length_penalty, seq))", "finished.append((score / len(seq) ** length_penalty, seq))")),
    ),
    (
        "length_excludes_eos",
        "your beam search does not count the end token in a finished hypothesis' length; Hugging Face "
        "divides by (generated tokens including the end token) ** length_penalty",
        _variant(
            _BEAM,
            (
                "finished.append((score / step ** length_penalty, seq))",
                "length = step if step == max_new_tokens and i % V != eos_token_id else step - 1\n"
                "                        finished.append((score / max(length, 1) ** length_penalty, seq))",
            ),
        ),
    ),
    (
        "only_num_beams_candidates",
        "your beam search keeps only num_beams candidates per step, so a beam that ends leaves fewer "
        "running beams; take the best 2 * num_beams, so num_beams unfinished ones always remain",
        _variant(_BEAM, ("top, idx = totals.flatten().topk(2 * num_beams)", "top, idx = totals.flatten().topk(num_beams)")),
    ),
    (
        "finishes_spare_candidates",
        "your beam search accepts an ended candidate at any rank; Hugging Face only accepts the ones "
        "among the best num_beams candidates of the step (the other num_beams are spares)",
        _variant(_BEAM, ("                    if rank < num_beams:\n", "                    if True:\n")),
    ),
    (
        "stops_at_first_finished",
        "your beam search stops as soon as one hypothesis has ended; Hugging Face goes on until "
        "num_beams hypotheses have ended and no running beam can beat the worst of them",
        _variant(
            _BEAM,
            (
                "if len(finished) == num_beams and beams[0][0] / step ** length_penalty <= finished[-1][0]:",
                "if len(finished) > 0:",
            ),
        ),
    ),
    (
        "no_stopping_heuristic",
        "your beam search always runs max_new_tokens steps; Hugging Face (early_stopping=False) stops "
        "once num_beams hypotheses have ended and the best running beam, scored with its current "
        "length, would not beat the worst of them, even if a longer one could have won later",
        _variant(
            _BEAM,
            (
                "            if len(finished) == num_beams and beams[0][0] / step ** length_penalty <= finished[-1][0]:\n"
                "                break\n",
                "",
            ),
        ),
    ),
    (
        "all_beams_start_alive",
        "your beam search starts with num_beams copies of the prompt, all with score 0, so the first "
        "step picks the same tokens num_beams times; start from one beam (or give the copies -inf)",
        _variant(_BEAM, ("beams = [(torch.tensor(0.0), prompt)]", "beams = [(torch.tensor(0.0), prompt) for _ in range(num_beams)]")),
    ),
]

BEAM_ALTERNATIVES = [
    _BEAM,
    # all prompts of the batch at once, Hugging Face's layout: (B * N) rows, dead beams at -1e9
    """import torch
import torch.nn.functional as F


def beam_search(model, input_ids, num_beams, max_new_tokens, length_penalty=1.0, eos_token_id=None):
    B, T = input_ids.shape
    N = num_beams
    seqs = input_ids.repeat_interleave(N, dim=0)  # (B * N, T)
    scores = torch.full((B, N), -1e9)
    scores[:, 0] = 0.0  # only the first copy of each prompt is alive at the start
    finished = [[] for _ in range(B)]  # per prompt: (score, sequence), best first
    searching = [True] * B
    with torch.no_grad():
        for step in range(1, max_new_tokens + 1):
            out = model(seqs)
            logits = (out[0] if isinstance(out, tuple) else out.logits)[:, -1, :].float()
            V = logits.shape[-1]
            total = F.log_softmax(logits, dim=-1).view(B, N, V) + scores[:, :, None]
            top_scores, top_idx = total.view(B, N * V).topk(2 * N, dim=-1)  # (B, 2N)
            new_seqs, new_scores = [], []
            for b in range(B):
                kept = []
                for r in range(2 * N):
                    src = b * N + top_idx[b, r].item() // V
                    tok = top_idx[b, r].item() % V
                    seq = torch.cat([seqs[src], torch.tensor([tok])])
                    if step == max_new_tokens or tok == eos_token_id:
                        if r < N and searching[b]:
                            finished[b].append((top_scores[b, r] / step ** length_penalty, seq))
                    elif len(kept) < N:
                        kept.append((top_scores[b, r], seq))
                finished[b] = sorted(finished[b], key=lambda h: h[0].item(), reverse=True)[:N]
                if step < max_new_tokens:
                    best_running = kept[0][0] / step ** length_penalty
                    if searching[b] and len(finished[b]) == N and best_running <= finished[b][-1][0]:
                        searching[b] = False
                    new_seqs += [seq for _, seq in kept]
                    new_scores.append(torch.stack([score for score, _ in kept]))
            if step == max_new_tokens or not any(searching):
                break
            seqs = torch.stack(new_seqs)
            scores = torch.stack(new_scores)
    best = [hyps[0][1] for hyps in finished]
    longest = max(len(seq) for seq in best)
    fill = eos_token_id if eos_token_id is not None else -1
    return torch.stack([torch.cat([seq, torch.full((longest - len(seq),), fill)]) for seq in best])
""",
]


# ======================================================================================
# generate_until
# ======================================================================================

_UNTIL = """import torch
from llmcourse.models import logits_fn


def generate_until(model, tokenizer, prompt, stop, max_new_tokens, next_token=None):
    stops = [stop] if isinstance(stop, str) else list(stop)
    logits_of = logits_fn(model)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    n_prompt = ids.shape[1]
    text = ""
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = logits_of(ids)[:, -1, :]
        tok = logits.argmax(dim=-1) if next_token is None else next_token(logits, ids)
        if tok.item() == tokenizer.eos_token_id:
            break
        ids = torch.cat([ids, tok.view(1, 1)], dim=1)
        text = tokenizer.decode(ids[0, n_prompt:])
        hits = [text.index(s) for s in stops if s in text]
        if hits:
            return text[: min(hits)]
    return text
"""

UNTIL_MISTAKES = [
    (
        "returns_stop_string",
        "your generate_until returns the stop string with the text; return the text before it",
        _variant(
            _UNTIL,
            (
                "        hits = [text.index(s) for s in stops if s in text]\n        if hits:\n            return text[: min(hits)]\n",
                "        hits = [text.index(s) + len(s) for s in stops if s in text]\n        if hits:\n            return text[: min(hits)]\n",
            ),
        ),
    ),
    (
        "token_level_match",
        "your generate_until only looks for the stop string in each new token's text; a stop string "
        "is usually several tokens (and may start mid-token): search the decoded text so far",
        _variant(
            _UNTIL,
            (
                "        hits = [text.index(s) for s in stops if s in text]\n        if hits:\n            return text[: min(hits)]\n",
                "        piece = tokenizer.decode(tok)\n        if any(s in piece for s in stops):\n"
                "            return tokenizer.decode(ids[0, n_prompt:-1])\n",
            ),
        ),
    ),
    (
        "searches_prompt",
        "your generate_until searches the prompt too, so a stop string in the prompt (a ReAct prompt "
        "contains 'Observation:') stops it at once; search only the generated text",
        _variant(
            _UNTIL,
            (
                "        text = tokenizer.decode(ids[0, n_prompt:])\n        hits = [text.index(s) for s in stops if s in text]\n"
                "        if hits:\n            return text[: min(hits)]\n",
                "        full = tokenizer.decode(ids[0])\n        text = full[len(prompt):]\n"
                "        hits = [full.index(s) for s in stops if s in full]\n        if hits:\n"
                "            return full[len(prompt) : max(min(hits), len(prompt))]\n",
            ),
        ),
    ),
    (
        "returns_prompt",
        "your generate_until returns the prompt with the generated text; return only the generated text",
        _variant(
            _UNTIL,
            ("            return text[: min(hits)]\n", "            return prompt + text[: min(hits)]\n"),
            ("    return text\n", "    return prompt + text\n"),
        ),
    ),
    (
        "string_as_characters",
        "your generate_until turns a single stop string into a list of its characters (list(stop)), "
        "so it stops at any of them; wrap a string in a list: [stop]",
        _variant(_UNTIL, ("stops = [stop] if isinstance(stop, str) else list(stop)", "stops = list(stop)")),
    ),
    (
        "first_listed_not_earliest",
        "your generate_until cuts at the first stop string of the list that occurs, not at the "
        "earliest position in the text where any of them occurs",
        _variant(
            _UNTIL,
            (
                "        hits = [text.index(s) for s in stops if s in text]\n        if hits:\n            return text[: min(hits)]\n",
                "        for s in stops:\n            if s in text:\n                return text[: text.index(s)]\n",
            ),
        ),
    ),
    (
        "endswith_only",
        "your generate_until only checks whether the text ends with the stop string; a token can "
        "carry the end of the stop string and more text: search the whole generated text",
        _variant(
            _UNTIL,
            (
                "        hits = [text.index(s) for s in stops if s in text]\n        if hits:\n            return text[: min(hits)]\n",
                "        for s in stops:\n            if text.endswith(s):\n                return text[: -len(s)]\n",
            ),
        ),
    ),
    (
        "ignores_end_of_text",
        "your generate_until goes on after the model's end-of-text token; stop there (the text after "
        "it belongs to another document)",
        _variant(_UNTIL, ("        if tok.item() == tokenizer.eos_token_id:\n            break\n", "")),
    ),
    (
        "ignores_next_token",
        "your generate_until always picks the most likely token; call next_token(logits, ids) when "
        "one is given (e.g. a sampler)",
        _variant(_UNTIL, ("tok = logits.argmax(dim=-1) if next_token is None else next_token(logits, ids)", "tok = logits.argmax(dim=-1)")),
    ),
]

UNTIL_ALTERNATIVES = [
    # decode everything and cut the decoded prompt off
    """import torch


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
""",
    # token ids in a list, a regular expression for the stop strings
    """import re
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
""",
]


MISTAKES = {  # graded function name -> [(mistake_id, message naming it for the student, code)]
    "apply_temperature": TEMPERATURE_MISTAKES,
    "top_k_filter": TOP_K_MISTAKES,
    "top_p_filter": TOP_P_MISTAKES,
    "apply_repetition_penalty": REPETITION_MISTAKES,
    "apply_frequency_presence_penalties": FREQUENCY_PRESENCE_MISTAKES,
    "greedy_decode": GREEDY_MISTAKES,
    "beam_search": BEAM_MISTAKES,
    "generate_until": UNTIL_MISTAKES,
}

ALTERNATIVES = {  # graded function name -> [valid answers written differently from the reference]
    "apply_temperature": TEMPERATURE_ALTERNATIVES,
    "top_k_filter": TOP_K_ALTERNATIVES,
    "top_p_filter": TOP_P_ALTERNATIVES,
    "apply_repetition_penalty": REPETITION_ALTERNATIVES,
    "apply_frequency_presence_penalties": FREQUENCY_PRESENCE_ALTERNATIVES,
    "greedy_decode": GREEDY_ALTERNATIVES,
    "beam_search": BEAM_ALTERNATIVES,
    "generate_until": UNTIL_ALTERNATIVES,
}
