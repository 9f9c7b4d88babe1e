"""Decoding: how a language model's next-token logits become text (chapter 05).

A causal language model gives, for every position, logits over the vocabulary for the next
token. Decoding is the loop around it: pick a token, append it, run the model again. This
module holds the pieces of that loop, each equal to what Hugging Face ``transformers`` does
(``tests/test_decoding.py`` checks them against it):

Logits processors, ``logits (B, V) -> logits (B, V)``: they reshape the distribution before a
token is picked. Filtered tokens get ``-inf`` (probability 0 after softmax); at least one token
always stays.
    :func:`apply_temperature`                    ``TemperatureLogitsWarper``
    :func:`top_k_filter`                         ``TopKLogitsWarper``
    :func:`top_p_filter`                         ``TopPLogitsWarper`` (nucleus)
    :func:`apply_repetition_penalty`             ``RepetitionPenaltyLogitsProcessor`` (CTRL)
    :func:`apply_frequency_presence_penalties`   the OpenAI API's ``frequency_penalty`` / ``presence_penalty``

Choosing the next token, ``next_token(logits (B, V), ids (B, t)) -> (B,)``: the hook of
:func:`llmcourse.gpt.generate` and :func:`generate_until`.
    :func:`greedy`   the most likely token
    :func:`sample`   draw from the processed distribution; ``functools.partial(sample, generator=g, top_p=0.9)``

Whole decoders, for any causal LM (a course :class:`~llmcourse.gpt.GPT` or a Hugging Face
model, through :func:`llmcourse.models.logits_fn`):
    :func:`greedy_decode`    ``model.generate(do_sample=False)``
    :func:`beam_search`      ``model.generate(num_beams=N, do_sample=False)``
    :func:`generate_until`   stop sequences: generate text until a string such as ``"Observation:"`` appears
    :func:`generate_with_cache`   greedy decoding with a Hugging Face model's KV cache (``past_key_values``)

The other decoders run the whole sequence through the model at every step (no KV cache):
slower than ``generate``, but each step is one line. Put the model in eval mode first.

Shapes: B batch, T prompt length, t tokens so far, V vocabulary size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from llmcourse.gpt import greedy
from llmcourse.models import logits_fn

__all__ = [
    "apply_temperature",
    "top_k_filter",
    "top_p_filter",
    "apply_repetition_penalty",
    "apply_frequency_presence_penalties",
    "greedy",
    "sample",
    "greedy_decode",
    "beam_search",
    "generate_until",
    "generate_with_cache",
]


# --- Logits processors: (B, V) -> (B, V) ------------------------------------------------------


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by ``temperature`` (> 0): ``T < 1`` sharpens the distribution, ``T > 1``
    flattens it, ``T = 1`` changes nothing. ``(B, V) -> (B, V)``.

    In the OpenAI API temperature 0 means greedy decoding; here, as in Hugging Face,
    ``temperature <= 0`` raises ``ValueError`` (decode with :func:`greedy` instead).
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r} (for temperature 0, decode greedily)")
    return logits / temperature  # (B, V)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row, set the others to ``-inf``. ``(B, V) -> (B, V)``.

    As in Hugging Face, every logit equal to the k-th largest is kept too (ties can keep more
    than ``k`` tokens), and ``k >= V`` keeps everything. ``k <= 0`` raises ``ValueError``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be an int > 0, got {k!r}")
    k = min(k, logits.shape[-1])
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (B, 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))  # (B, V)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probabilities add
    up to at least ``p``, set the others to ``-inf``. ``(B, V) -> (B, V)``.

    The token whose probability makes the running total cross ``p`` is kept; the most likely
    token is always kept (so ``p = 0`` is greedy), and ``p = 1`` keeps every token.
    Hugging Face's ``TopPLogitsWarper`` does the sum from the *least* likely token up, as here;
    on exactly tied logits, which of them is kept depends on ``torch.sort``'s order.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    sorted_logits, sorted_idx = torch.sort(logits, dim=-1, descending=False)  # (B, V), least likely first
    cum_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (B, V): this token + all less likely ones
    # If a token and everything below it hold at most 1 - p, the tokens above it already hold
    # at least p without it: it is not needed.
    remove_sorted = cum_probs <= 1 - p  # (B, V), in sorted order
    remove_sorted[..., -1] = False  # the most likely token always stays
    remove = remove_sorted.scatter(-1, sorted_idx, remove_sorted)  # (B, V), back in vocabulary order
    return logits.masked_fill(remove, float("-inf"))  # (B, V)


def apply_repetition_penalty(logits: torch.Tensor, generated_ids: torch.Tensor, penalty: float) -> torch.Tensor:
    """The CTRL paper's repetition penalty, as Hugging Face applies it. ``(B, V) -> (B, V)``.

    Every token that occurs in ``generated_ids (B, t)`` (Hugging Face passes the prompt too)
    gets its logit divided by ``penalty`` if positive, multiplied by it if negative: both make
    the token less likely when ``penalty > 1``. A token is penalised once, however often it
    occurs. ``penalty = 1`` changes nothing; ``penalty <= 0`` raises ``ValueError``.
    """
    if not penalty > 0:
        raise ValueError(f"penalty must be > 0, got {penalty!r}")
    seen_logits = torch.gather(logits, -1, generated_ids)  # (B, t): the logit of each token already there
    seen_logits = torch.where(seen_logits < 0, seen_logits * penalty, seen_logits / penalty)  # (B, t)
    # Writing back to the same id twice writes the same value twice: each token is penalised once.
    return logits.scatter(-1, generated_ids, seen_logits)  # (B, V)


def apply_frequency_presence_penalties(
    logits: torch.Tensor,
    generated_ids: torch.Tensor,
    frequency_penalty: float,
    presence_penalty: float,
) -> torch.Tensor:
    """The OpenAI API's penalties, additive on the logits. ``(B, V) -> (B, V)``.

    For every token ``j`` that occurs ``c[j]`` times in ``generated_ids (B, t)``::

        logits[j] -= c[j] * frequency_penalty + (c[j] > 0) * presence_penalty

    The frequency penalty grows with each repetition, the presence penalty is paid once.
    OpenAI counts the sampled tokens only (not the prompt): pass ``ids[:, prompt_length:]``.
    Negative values make repetition more likely.
    """
    counts = torch.zeros_like(logits)  # (B, V): how often each token occurs
    counts.scatter_add_(-1, generated_ids, torch.ones_like(generated_ids, dtype=logits.dtype))
    present = (counts > 0).to(logits.dtype)  # (B, V): 1.0 where the token occurs at all
    return logits - counts * frequency_penalty - present * presence_penalty  # (B, V)


# --- Choosing the next token: (logits (B, V), ids (B, t)) -> (B,) -----------------------------


def sample(
    logits: torch.Tensor,
    ids: torch.Tensor,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float | None = None,
    frequency_penalty: float = 0.0,
    presence_penalty: float = 0.0,
    prompt_length: int = 0,
) -> torch.Tensor:
    """Draw the next token from the processed distribution, ``(B, V), (B, t) -> (B,)``.

    Plugs into :func:`llmcourse.gpt.generate` and :func:`generate_until` as the ``next_token``
    hook, e.g. ``functools.partial(sample, generator=torch.Generator().manual_seed(0), top_p=0.9)``;
    the same seed gives the same tokens. ``generator=None`` uses torch's global random state.

    The logits go through the processors in Hugging Face's order: repetition penalty (and the
    OpenAI penalties), temperature, top-k, top-p; then softmax and one multinomial draw, so
    that with the same seed this draws the same tokens as ``generate(do_sample=True)`` after
    ``torch.manual_seed``. ``None`` (and ``temperature=1``, ``top_k=0``, penalties 0) switches
    a step off. The penalties look at ``ids[:, prompt_length:]``: ``prompt_length=0`` counts
    the prompt, as Hugging Face's repetition penalty does; set it to the prompt's length for
    OpenAI's penalties.

    Defaults differ between libraries: here every filter is off unless asked for, while Hugging
    Face's ``generate(do_sample=True)`` takes ``GenerationConfig``'s defaults ``top_k=50``,
    ``top_p=1.0``, ``temperature=1.0`` unless the model's ``generation_config`` or the call sets
    them (``generate(..., top_k=None)`` switches top-k off); the OpenAI API uses
    ``temperature=1``, ``top_p=1`` and has no top-k.
    """
    logits = logits.float()  # (B, V)
    past = ids[:, prompt_length:].to(logits.device)  # (B, t'): the tokens the penalties count
    if repetition_penalty is not None:
        logits = apply_repetition_penalty(logits, past, repetition_penalty)
    if frequency_penalty or presence_penalty:
        logits = apply_frequency_presence_penalties(logits, past, frequency_penalty, presence_penalty)
    if temperature != 1.0:
        logits = apply_temperature(logits, temperature)
    if top_k is not None and top_k != 0:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = F.softmax(logits, dim=-1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)  # (B,)


# --- Whole decoders ----------------------------------------------------------------------------


@torch.no_grad()
def greedy_decode(
    model,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    eos_token_id: int | None = None,
    pad_token_id: int = 0,
) -> torch.Tensor:
    """Greedy decoding: append the most likely token, ``max_new_tokens`` times.

    Args:
        model: a causal LM (course GPT or Hugging Face), in eval mode.
        input_ids: ``(B, T)`` prompts of equal length.
        max_new_tokens: the most tokens to add.
        eos_token_id: optional end-of-sequence id. A sequence that has produced it gets
            ``pad_token_id`` from then on, and decoding stops as soon as every sequence has
            produced it.
        pad_token_id: the filler after a sequence's end token.

    Returns:
        ``(B, T + n)`` ids, prompt included, ``n <= max_new_tokens``: the same as Hugging Face's
        ``model.generate(input_ids, do_sample=False, max_new_tokens=..., eos_token_id=...,
        pad_token_id=...)``.
    """
    logits_of = logits_fn(model)
    ids = input_ids  # (B, t), t grows by one per step
    finished = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)  # (B,)
    for _ in range(max_new_tokens):
        logits = logits_of(ids)[:, -1, :].float().to(ids.device)  # (B, V): the last position only
        next_tok = logits.argmax(dim=-1)  # (B,)
        if eos_token_id is not None:
            next_tok = next_tok.masked_fill(finished, pad_token_id)  # finished sequences get padding
            finished = finished | (next_tok == eos_token_id)
        ids = torch.cat([ids, next_tok[:, None]], dim=1)  # (B, t + 1)
        if eos_token_id is not None and bool(finished.all()):
            break  # every sequence has ended: no more steps
    return ids


# --- Beam search -------------------------------------------------------------------------------

# The score of a beam that does not exist yet (Hugging Face uses the same number).
DEAD = -1e9


@torch.no_grad()
def beam_search(
    model,
    input_ids: torch.Tensor,
    num_beams: int,
    max_new_tokens: int,
    length_penalty: float = 1.0,
    eos_token_id: int | None = None,
) -> torch.Tensor:
    """Beam search with ``num_beams`` beams: the most likely sequence it finds for each prompt.

    Greedy decoding commits to the most likely token at every step, but a sequence whose first
    token is a little less likely can be more likely as a whole. Beam search keeps the ``N``
    best partial sequences ("beams"), scored by the *sum of the log-probabilities* of their
    generated tokens: the log of their joint probability (a product of probabilities would
    underflow). At each step every beam is extended by every token, and the best of these
    ``N * V`` candidates become the new beams.

    With an end token, beams finish at different lengths. Hugging Face's rules
    (``GenerationMixin._beam_search``, ``early_stopping=False``), followed exactly here:

    1. Each step takes the best ``2 * N`` candidates, so that ``N`` unfinished ones remain
       even if ``N`` of them end with the end token.
    2. A candidate that ends with the end token becomes a *finished hypothesis*, but only if
       it ranks among the best ``N`` candidates of the step. Its score is its sum of log-probs
       divided by ``(generated length) ** length_penalty``, the end token counted in the length.
       The ``N`` best finished hypotheses are kept. A sum of log-probs only goes down as a
       sequence grows: ``length_penalty > 0`` favours longer sequences, ``< 0`` shorter ones.
    3. The best ``N`` unfinished candidates are the next beams.
    4. The search stops once ``N`` hypotheses have finished and the best running beam, scored
       as if it finished now, would not beat the worst of them. (A heuristic: with
       ``length_penalty > 0`` a longer continuation could still have won.)
    5. At the last step (``max_new_tokens``) the best ``N`` candidates all finish.

    The winner is the best finished hypothesis. Without an end token only rule 5 finishes
    beams: every beam runs ``max_new_tokens`` steps and the highest sum of log-probs wins.

    Args:
        model: a causal LM (course GPT or Hugging Face), in eval mode.
        input_ids: ``(B, T)`` prompts of equal length; each is searched on its own.
        num_beams: ``N``, the number of beams (``N = 1`` is greedy decoding).
        max_new_tokens: the most tokens to add.
        length_penalty: the exponent of the length that divides a finished hypothesis' score.
        eos_token_id: optional end-of-sequence id; ``None`` disables it.

    Returns:
        ``(B, T + n)`` ids, prompt included: each prompt's best sequence. Sequences that end
        early are padded with ``eos_token_id`` up to the longest one. The same as Hugging Face's
        ``model.generate(input_ids, num_beams=N, do_sample=False, early_stopping=False,
        max_new_tokens=..., length_penalty=..., eos_token_id=...)`` (when its ``pad_token_id``
        is the end token, or unset). Pass ``eos_token_id=None`` to ``generate`` itself to
        disable the end token: clearing ``model.generation_config.eos_token_id`` is not enough.
    """
    if num_beams < 1 or max_new_tokens < 0:
        raise ValueError(f"need num_beams >= 1 and max_new_tokens >= 0, got {num_beams} and {max_new_tokens}")
    if max_new_tokens == 0:
        return input_ids.clone()
    logits_of = logits_fn(model)
    best = [
        _beam_search_one(logits_of, prompt, num_beams, max_new_tokens, length_penalty, eos_token_id)
        for prompt in input_ids  # (T,) each
    ]
    longest = max(len(seq) for seq in best)
    pad = -1 if eos_token_id is None else eos_token_id  # without an end token all have the same length
    out = torch.full((len(best), longest), pad, dtype=torch.long, device=input_ids.device)  # (B, T + n)
    for b, seq in enumerate(best):
        out[b, : len(seq)] = seq
    return out


def _beam_search_one(
    logits_of,
    prompt: torch.Tensor,
    num_beams: int,
    max_new_tokens: int,
    length_penalty: float,
    eos_token_id: int | None,
) -> torch.Tensor:
    """Beam search for one prompt ``(T,)``; returns the best sequence ``(T + n,)``."""
    N = num_beams
    beams = prompt.repeat(N, 1)  # (N, T): every beam starts as the prompt...
    beam_scores = torch.full((N,), DEAD, device=prompt.device)  # (N,) sum of log-probs of the generated tokens
    beam_scores[0] = 0.0  # ...but only the first one is live, or step 1 would pick the same tokens N times
    finished: list[tuple[float, torch.Tensor]] = []  # (score, sequence), best first, at most N

    for step in range(max_new_tokens):
        n_generated = step + 1  # tokens generated by each candidate of this step
        last_step = n_generated == max_new_tokens

        logits = logits_of(beams)[:, -1, :].float().to(beams.device)  # (N, V)
        log_probs = F.log_softmax(logits, dim=-1)  # (N, V)
        V = log_probs.shape[-1]
        cand_scores = (beam_scores[:, None] + log_probs).view(-1)  # (N * V,): beam b extended by token v at b * V + v
        cand_scores, cand = torch.topk(cand_scores, 2 * N)  # (2N,), best first
        cand_beam, cand_token = cand // V, cand % V  # (2N,): which beam, which new token
        final_scores = cand_scores / n_generated**length_penalty  # (2N,): the score if the candidate finished now

        next_beams, next_scores = [], []
        for rank in range(2 * N):
            seq = torch.cat([beams[cand_beam[rank]], cand_token[rank : rank + 1]])  # (t + 1,)
            ends = last_step or (eos_token_id is not None and cand_token[rank].item() == eos_token_id)
            if ends:
                if rank < N:  # only the best N candidates may finish; the others are spares
                    finished.append((final_scores[rank].item(), seq))
            elif len(next_beams) < N:  # the best N unfinished candidates go on
                next_beams.append(seq)
                next_scores.append(cand_scores[rank])
        finished = sorted(finished, key=lambda hyp: hyp[0], reverse=True)[:N]
        if last_step:
            break
        beams = torch.stack(next_beams)  # (N, t + 1)
        beam_scores = torch.stack(next_scores)  # (N,), best first

        # Stop when N hypotheses have finished and the best running beam, were it to finish
        # now, would not beat the worst of them.
        if len(finished) == N and (beam_scores[0] / n_generated**length_penalty).item() <= finished[-1][0]:
            break

    return finished[0][1]


@torch.no_grad()
def generate_until(
    model,
    tokenizer,
    prompt: str,
    stop: str | Sequence[str],
    max_new_tokens: int,
    next_token: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> str:
    """Generate text after ``prompt`` until one of the ``stop`` strings appears in it.

    Stop sequences let a program take over from the model: a ReAct agent stops the model at
    ``"Observation:"``, runs the tool itself and appends the real observation. The model
    knows nothing about the stop string: a stop string is usually several tokens, and can
    start or end in the middle of a token (``"Observation:"`` may arrive as ``"\\nObs"``,
    ``"ervation"``, ``":"``). So the check is on the *decoded text*, after every token.

    Only the generated text is searched (a ReAct prompt contains ``"Observation:"`` itself).
    Generation halts at the first token after which any stop string occurs, and also when the
    model produces the tokenizer's end-of-text token, or after ``max_new_tokens`` tokens.

    Args:
        model: a causal LM (course GPT or Hugging Face), in eval mode.
        tokenizer: its Hugging Face tokenizer.
        prompt: the text to continue.
        stop: a stop string, or several (non-empty).
        max_new_tokens: the most tokens to generate.
        next_token: ``(logits (1, V), ids (1, t)) -> (1,)``, as in :func:`llmcourse.gpt.generate`;
            defaults to :func:`greedy`.

    Returns:
        The generated text up to the earliest occurrence of a stop string: neither the prompt
        nor the stop string (nor the end-of-text token) is included.
    """
    stops = [stop] if isinstance(stop, str) else list(stop)
    if not stops or any(not s for s in stops):
        raise ValueError(f"stop must be a non-empty string or a list of them, got {stop!r}")
    choose = greedy if next_token is None else next_token
    logits_of = logits_fn(model)

    ids = tokenizer(prompt, return_tensors="pt").input_ids  # (1, T)
    prompt_len = ids.shape[1]
    text = ""  # the generated text so far
    for _ in range(max_new_tokens):
        logits = logits_of(ids)[:, -1, :].to(ids.device)  # (1, V)
        tok = choose(logits, ids).view(1, 1).to(ids.device)  # (1, 1)
        if tok.item() == tokenizer.eos_token_id:
            break
        ids = torch.cat([ids, tok], dim=1)  # (1, t + 1)
        text = tokenizer.decode(ids[0, prompt_len:])  # decode the generated tokens only
        found = [text.find(s) for s in stops if s in text]
        if found:
            return text[: min(found)]  # cut before the earliest stop string
    return text


# --- Greedy decoding with a KV cache -------------------------------------------------------------


@torch.no_grad()
def generate_with_cache(model, idx: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Greedy decoding with a Hugging Face causal LM's KV cache: the same tokens as
    :func:`greedy_decode` without an end token, at one single-token forward per new token.

    The first forward runs the whole prompt and returns the keys and values of every layer
    (``past_key_values``); each later forward gets only the newest token and that cache, which
    the model extends by one position. ``n`` new tokens take ``n`` forwards: the prompt, then
    ``n - 1`` single tokens (the last token is appended without running the model again).

    Args:
        model: a Hugging Face causal LM in eval mode (``model(input_ids=..., past_key_values=...,
            use_cache=True)`` returns ``.logits`` and ``.past_key_values``).
        idx: ``(B, T)`` prompts of equal length (no padding).
        max_new_tokens: how many tokens to add (0 returns ``idx``).

    Returns:
        ``(B, T + max_new_tokens)`` ids, prompt included: Hugging Face's
        ``model.generate(idx, do_sample=False, max_new_tokens=..., eos_token_id=None)``.
    """
    ids = idx  # (B, t), t grows by one per step
    if max_new_tokens <= 0:
        return ids
    out = model(input_ids=idx, use_cache=True)  # the whole prompt once: fills the cache
    for step in range(max_new_tokens):
        next_tok = out.logits[:, -1, :].argmax(dim=-1, keepdim=True).to(ids.device)  # (B, 1)
        ids = torch.cat([ids, next_tok], dim=1)  # (B, t + 1)
        if step + 1 < max_new_tokens:  # the last token needs no forward of its own
            out = model(input_ids=next_tok, past_key_values=out.past_key_values, use_cache=True)  # (B, 1) in
    return ids
