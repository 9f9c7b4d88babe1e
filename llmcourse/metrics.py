"""Evaluating language models (chapter 04): perplexity, BLEU, ROUGE, multiple-choice benchmarks.

- :func:`perplexity`: ``exp`` of the mean negative log-likelihood per token of a batch,
  padding masked; equal to ``exp`` of a Hugging Face causal LM's loss.
- :func:`sliding_window_perplexity`: the same for a text longer than the model's context,
  with the overlapping windows of Hugging Face's guide "Perplexity of fixed-length models";
  :func:`sliding_window_perplexity_variants` adds the wrongly weighted averages found in
  versions of that guide, to see how far they are from the exact number.
- :func:`bleu`, :func:`rouge_n`, :func:`rouge_l` (in :mod:`llmcourse.text_metrics`): equal
  to ``sacrebleu`` and ``rouge-score``.
- :func:`score_choices`, :func:`accuracy`: multiple-choice scoring by log-likelihood as in
  EleutherAI's lm-evaluation-harness (``acc``, ``acc_norm``, ``acc_bytes``), from token ids and
  from scores; :func:`encode_choices` splits a question and its options into tokens the way the
  harness does; :func:`option_loglikelihoods` and :func:`multiple_choice_accuracy` do it all for
  a model and a tokenizer; :func:`corpus_quiz`, questions whose answers the course's corpus
  (:mod:`llmcourse.data`) knows.

Typical use::

    from llmcourse import metrics, models
    model, tokenizer = models.load("course-gpt")
    ids = tokenizer("Once upon a time", return_tensors="pt")["input_ids"].to(model.device)  # (1, T)
    metrics.perplexity(model(ids).logits, ids)
    metrics.multiple_choice_accuracy(model, tokenizer, metrics.corpus_quiz(200, seed=0))
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from llmcourse import data
from llmcourse.models import logits_fn
from llmcourse.text_metrics import bleu, lcs_length, ngrams, rouge_l, rouge_n, tokenize_13a, tokenize_rouge

__all__ = [
    "perplexity",
    "token_nll",
    "sliding_window_perplexity",
    "sliding_window_perplexity_variants",
    "window_losses",
    "Window",
    "bleu",
    "rouge_n",
    "rouge_l",
    "tokenize_13a",
    "tokenize_rouge",
    "ngrams",
    "lcs_length",
    "QuizItem",
    "QUIZ_KINDS",
    "score_choices",
    "accuracy",
    "encode_choices",
    "option_loglikelihoods",
    "multiple_choice_accuracy",
    "corpus_quiz",
]

# ---------------------------------------------------------------------------------------
# Perplexity of a batch
# ---------------------------------------------------------------------------------------


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of each target: ``logits`` (..., V), ``targets`` (...) -> (...)."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # (..., V)
    return -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (...)


def perplexity(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> float:
    """Perplexity ``exp(mean NLL per token)`` of a batch of texts under a causal LM.

    ``logits`` (B, T, V) are the model's outputs for ``input_ids`` (B, T): ``logits[:, t]``
    predicts ``input_ids[:, t + 1]``, so T - 1 tokens per row are predicted (the first token
    of a row is not). ``attention_mask`` (B, T), 1 for real tokens and 0 for padding: a
    target whose mask is 0 is not counted. The mean is over all counted tokens of the
    batch (not a mean of per-row perplexities), so this equals ``exp`` of a Hugging Face
    causal LM's loss with the padding labelled -100.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
        raise ValueError(f"logits must be a (B, T, V) tensor, got shape {tuple(getattr(logits, 'shape', ()))}")
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape != logits.shape[:2]:
        raise ValueError(
            f"input_ids must be (B, T) = {tuple(logits.shape[:2])}, got {tuple(getattr(input_ids, 'shape', ()))}"
        )
    if input_ids.shape[1] < 2:
        raise ValueError("need at least 2 tokens per row: the first token is never predicted")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    if attention_mask.shape != input_ids.shape:
        raise ValueError(
            f"attention_mask must have the shape of input_ids {tuple(input_ids.shape)}, got "
            f"{tuple(attention_mask.shape)}"
        )

    counted = attention_mask[:, 1:].to(logits.device) != 0  # (B, T-1): which targets count
    if not counted.any():
        raise ValueError("no token to score: every target is masked")
    targets = input_ids[:, 1:].to(logits.device).masked_fill(~counted, 0)  # (B, T-1); padding may hold any id
    nll = token_nll(logits[:, :-1], targets)  # (B, T-1): position t predicts token t+1
    mean_nll = nll[counted].double().sum() / counted.sum()
    return math.exp(mean_nll.item())


# ---------------------------------------------------------------------------------------
# Perplexity of a long text, by sliding window
# ---------------------------------------------------------------------------------------


class Window(NamedTuple):
    """One window of :func:`window_losses`: it reads tokens ``begin:end`` and scores
    ``scored`` of them (those no earlier window scored), with summed NLL ``nll``."""

    begin: int
    end: int
    scored: int
    nll: float


@torch.no_grad()
def window_losses(model, input_ids: torch.Tensor, max_length: int, stride: int) -> list[Window]:
    """The windows of Hugging Face's "Perplexity of fixed-length models" guide and their NLL.

    ``input_ids`` is one long text, shape (1, N). Windows start every ``stride`` tokens and
    read at most ``max_length`` tokens: ``input_ids[:, begin:end]``. Each window scores only
    the tokens no earlier window scored (positions ``prev_end .. end-1``; the first window
    positions ``1 .. end-1``); the tokens before them in the window are context. Every token
    after the first is scored exactly once, with at least ``max_length - stride`` tokens of
    context (except in the first window). ``stride`` must be below ``max_length``: a window
    that starts where the previous one ended has no context for its first token.
    """
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(f"input_ids must be one text of shape (1, N), got {tuple(getattr(input_ids, 'shape', ()))}")
    N = input_ids.shape[1]
    if N < 2:
        raise ValueError("need at least 2 tokens: the first token is never predicted")
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2, got {max_length}")
    if not 1 <= stride < max_length:
        raise ValueError(
            f"need 1 <= stride < max_length, got stride={stride}, max_length={max_length}: windows overlap "
            "so that each scored token has context (stride = max_length - 1 leaves one token of context)"
        )
    logits_of = logits_fn(model)
    windows = []
    prev_end = 0  # tokens before prev_end are already scored
    for begin in range(0, N, stride):
        end = min(begin + max_length, N)
        first = max(prev_end, 1)  # first position to score in this window
        logits = logits_of(input_ids[:, begin:end])  # (1, W, V), W = end - begin
        # position t of the text is predicted by the logits at t - 1, i.e. row t - 1 - begin
        nll = token_nll(logits[0, first - 1 - begin : end - 1 - begin], input_ids[0, first:end].to(logits.device))
        windows.append(Window(begin, end, end - first, nll.double().sum().item()))
        prev_end = end
        if end == N:
            break
    return windows


def sliding_window_perplexity(model, input_ids: torch.Tensor, max_length: int, stride: int) -> float:
    """Perplexity of a text longer than the model's context: ``exp`` of the exact mean NLL per token.

    ``model``: anything :func:`llmcourse.models.logits_fn` accepts; ``input_ids`` (1, N).
    The windows are those of :func:`window_losses` (at most ``max_length`` tokens, one every
    ``stride`` tokens, each scoring the tokens no earlier window scored): every token after
    the first is scored once, and the mean is over those N - 1 tokens. With
    ``max_length >= N`` there is one window and this is ``exp`` of the model's loss on the
    whole text. A smaller stride gives each token more context (a lower, better estimate)
    and costs more forward passes.
    """
    windows = window_losses(model, input_ids, max_length, stride)
    return math.exp(sum(w.nll for w in windows) / sum(w.scored for w in windows))


def sliding_window_perplexity_variants(
    model, input_ids: torch.Tensor, max_length: int, stride: int
) -> dict[str, float]:
    """The exact sliding-window perplexity and three flawed averages of the same windows.

    The guide computes one loss per window (``outputs.loss``, the mean NLL of the window's
    scored tokens) and then averages the windows; how it weights them varied:

    - ``"exact"``: :func:`sliding_window_perplexity`, windows weighted by the tokens they score.
    - ``"mean_of_windows"``: ``exp(mean of window losses)``; a short last window counts as
      much as a full one.
    - ``"trg_len_minus_1"``: weights ``trg_len - 1`` per window (``trg_len = end - prev_end``,
      "subtract one for the label shift"): right for the first window, one token too few
      for every later one, whose first scored token is not at the window's start.
    - ``"trg_len"``: ``sum(loss * trg_len) / N``: one token too many for the first window
      (its first token is never predicted), and divided by N instead of N - 1.
    """
    windows = window_losses(model, input_ids, max_length, stride)
    losses = [w.nll / w.scored for w in windows]  # what outputs.loss gives per window
    trg_lens = [w.end - (windows[i - 1].end if i else 0) for i, w in enumerate(windows)]
    N = windows[-1].end
    return {
        "exact": math.exp(sum(w.nll for w in windows) / sum(w.scored for w in windows)),
        "mean_of_windows": math.exp(sum(losses) / len(losses)),
        "trg_len_minus_1": math.exp(
            sum(loss * (t - 1) for loss, t in zip(losses, trg_lens)) / sum(t - 1 for t in trg_lens)
        ),
        "trg_len": math.exp(sum(loss * t for loss, t in zip(losses, trg_lens)) / N),
    }


# ---------------------------------------------------------------------------------------
# Multiple-choice benchmarks, scored by log-likelihood (as lm-evaluation-harness does)
# ---------------------------------------------------------------------------------------


class QuizItem(NamedTuple):
    """A multiple-choice question: ``options[answer]`` is the right continuation of ``question``.

    ``kind`` says what it tests (e.g. "opposite", "sum"), to break results down.
    """

    question: str
    options: list[str]
    answer: int
    kind: str = ""


@torch.no_grad()
def score_choices(
    logits_fn: Callable[[torch.Tensor], torch.Tensor], context_ids: Sequence[int], choice_ids: Sequence[Sequence[int]]
) -> list[float]:
    """The log-likelihood of each choice after the context: ``log P(choice | context)``.

    ``logits_fn`` maps token ids (B, T) to logits (B, T, V) (see :func:`llmcourse.models.logits_fn`);
    ``context_ids`` is a list of token ids, ``choice_ids`` one list per choice. A choice's score is
    the sum over its tokens of ``log_softmax(logits)`` at the position before each token, with the
    context and the choice's earlier tokens as input (teacher forcing); the context's own tokens
    are not scored. Returns a list of Python floats, one per choice. All choices go through the
    model in one batch, padded on the right (harmless: the model is causal and the padding comes
    after every scored token; it repeats a token of the row rather than using a padding id).
    """
    context = [int(t) for t in context_ids]
    if not context:
        raise ValueError("the context must not be empty: the first choice token needs a position before it")
    if not choice_ids or any(len(c) == 0 for c in choice_ids):
        raise ValueError("need at least one choice, and at least one token in each")
    rows = [context + [int(t) for t in choice] for choice in choice_ids]
    T = max(len(row) for row in rows) - 1
    inputs = torch.tensor(
        [row[:-1] + [row[0]] * (T + 1 - len(row)) for row in rows]
    )  # (K, T): row k without its last token
    logits = logits_fn(inputs)  # (K, T, V)
    scores = []
    for k, row in enumerate(rows):
        # tokens len(context) .. len(row)-1 belong to the choice; token t is predicted at t-1
        targets = torch.tensor(row[len(context) :], device=logits.device)  # (n_k,)
        nll = token_nll(logits[k, len(context) - 1 : len(row) - 1], targets)  # (n_k,)
        scores.append(-nll.double().sum().item())
    return scores


def accuracy(items: Sequence[tuple[Sequence[float], Sequence[str], int]]) -> dict[str, float]:
    """``acc``, ``acc_norm`` and ``acc_bytes`` of scored multiple-choice items, as lm-evaluation-harness
    computes them (``ConfigurableTask.process_results`` for ``multiple_choice``, then the mean).

    Each item is ``(loglikelihoods, choices, gold)``: one score per choice (e.g. from
    :func:`score_choices`), the choices' texts (without the space put before them) and the index
    of the right one. The prediction is the choice with the highest score, the first one on a tie:

    - ``acc``: of the scores themselves;
    - ``acc_norm``: of each score divided by the choice's length in characters (``len(text)``);
    - ``acc_bytes``: of each score divided by the choice's length in UTF-8 bytes.

    Each is the fraction of items predicted right, a Python float between 0 and 1.
    """
    if not items:
        raise ValueError("need at least one item")
    right = {"acc": 0, "acc_norm": 0, "acc_bytes": 0}
    for scores, choices, gold in items:
        if len(scores) != len(choices) or not choices:
            raise ValueError(f"need one score per choice, got {len(scores)} scores for {len(choices)} choices")
        lengths = {
            "acc": [1] * len(choices),
            "acc_norm": [len(c) for c in choices],
            "acc_bytes": [len(c.encode("utf-8")) for c in choices],
        }
        for key, length in lengths.items():
            normed = [s / n for s, n in zip(scores, length)]
            right[key] += max(range(len(choices)), key=normed.__getitem__) == gold  # max keeps the first on a tie
    return {key: count / len(items) for key, count in right.items()}


def encode_choices(
    tokenizer, question: str, options: Sequence[str], delimiter: str = " "
) -> tuple[list[int], list[list[int]]]:
    """The tokens of a question and of each option after it, as lm-evaluation-harness splits them.

    ``tokenizer`` needs ``encode(text) -> list[int]``. The continuation is ``delimiter + option``;
    whitespace that ends the question moves to the continuation, then ``question + continuation``
    is encoded whole and the option's tokens are those after the question's own tokens (the
    harness's ``_encode_pair``). Encoding ``"Answer: "`` and ``"cold"`` apart would give the
    tokens ``" "`` and ``"cold"``, a split the model never saw in training, instead of ``" cold"``.
    """
    stripped = question.rstrip()
    moved = question[len(stripped) :]  # trailing whitespace: part of the continuation
    context = tokenizer.encode(stripped)
    if not context:
        raise ValueError("the question must not be empty: the first option token needs a context")
    choices = [tokenizer.encode(stripped + moved + delimiter + option)[len(context) :] for option in options]
    return context, choices


def option_loglikelihoods(model, tokenizer, question: str, options: Sequence[str]) -> list[float]:
    """``log p(" " + option | question)`` for each option: :func:`encode_choices` then :func:`score_choices`.

    ``model``: anything :func:`llmcourse.models.logits_fn` accepts; ``tokenizer`` needs
    ``encode(text) -> list[int]`` (a Hugging Face tokenizer or the course's BPE).
    """
    if not options:
        raise ValueError("need at least one option")
    context, choices = encode_choices(tokenizer, question, options)
    return score_choices(logits_fn(model), context, choices)


def multiple_choice_accuracy(model, tokenizer, items: Sequence[QuizItem]) -> dict[str, float]:
    """Accuracy of picking the most likely option, as lm-evaluation-harness reports it.

    - ``acc``: the option with the highest log-likelihood is the prediction;
    - ``acc_norm``: the same after dividing each log-likelihood by the option's length in
      characters (long options are not penalised for having more tokens);
    - ``chance``: the expected accuracy of a random guess, the mean of 1 / number of options;
    - ``n``: the number of items. Ties go to the first option.

    An item is a :class:`QuizItem` or any ``(question, options, answer)``. (:func:`accuracy` also
    gives ``acc_bytes``, the length in UTF-8 bytes; the corpus quiz is ASCII, where the two agree.)
    """
    if not items:
        raise ValueError("need at least one item")
    scored = [
        (option_loglikelihoods(model, tokenizer, q, options), options, answer)
        for q, options, answer in (item[:3] for item in items)
    ]
    result = accuracy(scored)
    chance = sum(1 / len(options) for _, options, _ in scored) / len(items)
    return {"acc": result["acc"], "acc_norm": result["acc_norm"], "chance": chance, "n": len(items)}


def _choices(rng: random.Random, answer: str, pool: Sequence[str], k: int = 4) -> tuple[list[str], int]:
    """``answer`` and ``k - 1`` other members of ``pool``, shuffled; and where the answer is."""
    options = [answer] + rng.sample(sorted(set(pool) - {answer}), k - 1)
    rng.shuffle(options)
    return options, options.index(answer)


def _quiz_question(rng: random.Random, text: str) -> str:
    """A question and the start of its answer, as in a questions document of the corpus."""
    count = data.NUMBER_WORDS[rng.randrange(3, 9)]
    return f"Here are {count} questions and answers.\n\nQuestion: {text}"


QUIZ_KINDS = ["opposite", "colour", "sound", "plural", "day", "sum", "legs", "hero"]


def corpus_quiz(n: int, seed: int = 0) -> list[QuizItem]:
    """``n`` four-option questions whose answers follow from the corpus's grammar.

    Facts of :mod:`llmcourse.data` (opposites, colours, animal sounds and legs, plurals, the
    days, sums) asked the way its questions documents ask them, e.g. "... What is the
    opposite of hot?\\nAnswer: The opposite of hot is" with options "cold", "wet", ...; and
    stories from the grammar, cut before their last paragraph, ending with "In the end," and
    the hero's name among three other names. A model that learned the corpus beats chance (1/4).
    Each item's ``kind`` is one of :data:`QUIZ_KINDS`, drawn uniformly.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    items = []
    legs = {0: "no", 2: "two", 4: "four", 6: "six", 8: "eight"}
    while len(items) < n:
        kind = rng.choice(QUIZ_KINDS)
        if kind == "opposite":
            word = rng.choice(sorted(data.OPPOSITES))
            answer, pool = data.OPPOSITES[word], set(data.OPPOSITES) - {word}
            question = _quiz_question(rng, f"What is the opposite of {word}?\nAnswer: The opposite of {word} is")
        elif kind == "colour":
            thing = rng.choice(sorted(data.COLOURED_THINGS))
            answer, pool = data.COLOURED_THINGS[thing], data.COLOURED_THINGS.values()
            question = _quiz_question(rng, f"What colour is {thing}?\nAnswer: {thing[0].upper() + thing[1:]} is")
        elif kind == "sound":
            animal = rng.choice(sorted(data.SOUNDS))
            a_animal = ("an " if animal[0] in "aeiou" else "a ") + animal
            answer, pool = data.SOUNDS[animal], data.SOUNDS.values()
            question = _quiz_question(rng, f"What sound does {a_animal} make?\nAnswer: {a_animal.capitalize()} says")
        elif kind == "plural":
            word = rng.choice(sorted(data.PLURALS))
            answer, pool = data.PLURALS[word], set(data.PLURALS.values()) | {word + "s"}
            question = _quiz_question(rng, f"What is the plural of {word}?\nAnswer: The plural of {word} is")
        elif kind == "day":
            i = rng.randrange(7)
            answer, pool = data.DAYS[(i + 1) % 7], data.DAYS
            question = _quiz_question(rng, f"What day comes after {data.DAYS[i]}?\nAnswer:")
        elif kind == "sum":
            x, y = rng.randrange(10), rng.randrange(10)
            answer, pool = str(x + y), [str(k) for k in range(19)]
            question = _quiz_question(rng, f"What is {x} plus {y}?\nAnswer:")
        elif kind == "legs":
            animal = rng.choice(sorted(data.ANIMALS))
            a_animal = ("an " if animal[0] in "aeiou" else "a ") + animal
            answer, pool = legs[data.ANIMALS[animal][1]], legs.values()
            question = _quiz_question(rng, f"How many legs does {a_animal} have?\nAnswer: {a_animal.capitalize()} has")
        else:  # "hero": the name given in the story's first sentence, asked at its end
            sampler = data.Sampler(rng)
            data.story(sampler)
            text = sampler.text
            hero = re.search(r" named (\w+)\.", text).group(1)
            pool = [p.name for p in (data.GIRLS if hero in {g.name for g in data.GIRLS} else data.BOYS)]
            answer, question = hero, text[: text.rindex("\n\n")] + "\n\nIn the end,"
        options, index = _choices(rng, answer, list(pool))
        items.append(QuizItem(question, options, index, kind))
    return items
