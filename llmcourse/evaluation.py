"""Evaluation beyond a fixed test set (chapter 04): pairwise preferences, annotators, contamination.

- :func:`simulate_votes`: a seeded table of pairwise votes between systems whose true strengths
  are known, as a Chatbot Arena would collect them (a prompt, two anonymous answers, one vote);
- :func:`elo_ratings`: online Elo updates, one vote at a time (the result depends on the order);
- :func:`bradley_terry`: the maximum-likelihood Bradley-Terry ratings of the same votes, a
  logistic regression (the order does not matter); :func:`bootstrap_ratings` resamples the votes
  for confidence intervals;
- :func:`cohen_kappa`: the agreement of two annotators beyond chance;
- :func:`swap_names`, :func:`text_nlls`: a memorisation check (is a text from the training data
  more likely than the same text with its names swapped?);
- :func:`perturb_sum`, :func:`leak`: a planted contamination, a copy of a model fine-tuned on a
  benchmark's test items, to compare them with lightly perturbed copies.

Typical use::

    from llmcourse import evaluation
    votes = evaluation.simulate_votes({"A": 1100, "B": 1000, "C": 950}, n=2000, seed=0)
    evaluation.bradley_terry(votes)  # {'A': ..., 'B': ..., 'C': ...} on the Elo scale
"""

from __future__ import annotations

import copy
import math
import random
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from llmcourse import data
from llmcourse.metrics import QuizItem

__all__ = [
    "Vote",
    "win_probability",
    "simulate_votes",
    "elo_ratings",
    "bradley_terry",
    "bootstrap_ratings",
    "cohen_kappa",
    "swap_names",
    "text_nlls",
    "perturb_sum",
    "leak",
]

SCALE, BASE, INITIAL = 400.0, 10.0, 1000.0  # the Elo scale: 400 points = odds of 10 to 1


class Vote(NamedTuple):
    """One pairwise judgement: ``outcome`` is 1 when ``a`` won, 0 when ``b`` won, 0.5 for a tie."""

    a: str
    b: str
    outcome: float


def win_probability(rating_a: float, rating_b: float) -> float:
    """P(a beats b) under the Bradley-Terry model on the Elo scale: 1 / (1 + 10^((r_b - r_a) / 400))."""
    return 1.0 / (1.0 + BASE ** ((rating_b - rating_a) / SCALE))


def simulate_votes(strengths: dict[str, float], n: int, seed: int = 0, tie_rate: float = 0.0) -> list[Vote]:
    """``n`` votes between two systems drawn at random (a pair of distinct names), each won with
    the Bradley-Terry probability of the true ``strengths`` (Elo scale); a fraction ``tie_rate``
    of the votes, at random, is a tie."""
    if len(strengths) < 2:
        raise ValueError("need at least two systems")
    rng = random.Random(seed)
    names = sorted(strengths)
    votes = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        if rng.random() < tie_rate:
            votes.append(Vote(a, b, 0.5))
        else:
            votes.append(Vote(a, b, float(rng.random() < win_probability(strengths[a], strengths[b]))))
    return votes


def _names(votes: Sequence[Vote]) -> list[str]:
    return sorted({v.a for v in votes} | {v.b for v in votes})


def elo_ratings(votes: Sequence[Vote], k: float = 4.0, initial: float = INITIAL) -> dict[str, float]:
    """Online Elo: every system starts at ``initial``; after each vote, in order, the winner takes
    ``k * (outcome - expected)`` points from the loser (``expected`` = :func:`win_probability`)."""
    ratings = dict.fromkeys(_names(votes), initial)
    for a, b, outcome in votes:
        delta = k * (outcome - win_probability(ratings[a], ratings[b]))
        ratings[a] += delta
        ratings[b] -= delta
    return ratings


def bradley_terry(votes: Sequence[Vote], initial: float = INITIAL) -> dict[str, float]:
    """Maximum-likelihood Bradley-Terry ratings on the Elo scale, centred on ``initial``.

    P(a beats b) = sigmoid(beta_a - beta_b) is a logistic regression without intercept whose
    features are +1 for a and -1 for b, fitted by Newton's method. The votes between the same
    ordered pair become one row "a won" weighted by a's wins and one row "b won" weighted by b's
    (a tie is half a win for each): the same likelihood as one row per vote, and much faster. The
    betas (natural log-odds) become Elo points as ``400 * beta / ln 10``. When a system wins or
    loses every vote the maximum is at infinity, and its rating only stops after 100 steps.
    """
    names = _names(votes)
    column = {name: j for j, name in enumerate(names)}
    wins: dict[tuple[str, str], list[float]] = {}  # (a, b) -> [a's wins, b's wins]
    for a, b, outcome in votes:
        counts = wins.setdefault((a, b), [0.0, 0.0])
        counts[0] += outcome
        counts[1] += 1.0 - outcome
    X = np.zeros((2 * len(wins), len(names)))  # (2P, M): each ordered pair as "a won" and as "b won"
    y = np.tile([1, 0], len(wins))
    weights = np.array([w for counts in wins.values() for w in counts])  # (2P,)
    for i, (a, b) in enumerate(wins):
        X[2 * i : 2 * i + 2, column[a]] = 1.0
        X[2 * i : 2 * i + 2, column[b]] = -1.0
    beta = np.zeros(len(names))
    for _ in range(100):  # Newton's method on the log-likelihood (concave: it converges in a few steps)
        p = 1.0 / (1.0 + np.exp(-(X @ beta)))  # (2P,) P(row's label is 1)
        gradient = X.T @ (weights * (y - p))  # (M,)
        hessian = X.T @ (X * (weights * p * (1 - p))[:, None])  # (M, M), minus the second derivative
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]  # lstsq: the Hessian is singular along (1, ..., 1)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    beta -= beta.mean()
    return {name: initial + SCALE * b / math.log(BASE) for name, b in zip(names, beta)}


def bootstrap_ratings(
    votes: Sequence[Vote],
    fit: Callable[[Sequence[Vote]], dict[str, float]] = bradley_terry,
    rounds: int = 100,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """``fit`` on ``rounds`` resamples of the votes (drawn with replacement, as many as there are);
    returns each system's ``rounds`` ratings, from which percentiles give confidence intervals."""
    rng = np.random.default_rng(seed)
    names = _names(votes)
    samples = {name: np.empty(rounds) for name in names}
    for r in range(rounds):
        resample = [votes[i] for i in rng.integers(len(votes), size=len(votes))]
        ratings = fit(resample)
        for name in names:
            samples[name][r] = ratings.get(name, np.nan)
    return samples


def cohen_kappa(first: Sequence, second: Sequence) -> float:
    """Cohen's kappa of two annotators' labels of the same items: (p_o - p_e) / (1 - p_e), where p_o
    is the fraction of items they label alike and p_e the agreement expected by chance from each
    one's label frequencies. 1 is perfect agreement, 0 no better than chance."""
    if len(first) != len(second) or not first:
        raise ValueError("need the same, non-zero number of labels from both annotators")
    n = len(first)
    p_o = sum(x == y for x, y in zip(first, second)) / n
    labels = set(first) | set(second)
    p_e = sum((list(first).count(c) / n) * (list(second).count(c) / n) for c in labels)
    return 1.0 if p_e == 1 else (p_o - p_e) / (1 - p_e)


# ---------------------------------------------------------------------------------------
# Contamination
# ---------------------------------------------------------------------------------------

_NAME = re.compile(r"\b(" + "|".join(p.name for p in data.PEOPLE) + r")\b")


def swap_names(text: str, seed: int = 0) -> str:
    """The text with every name of the corpus's people replaced consistently by another name of
    the same gender (one random permutation of the girls' names and one of the boys'), so that
    the pronouns still fit and the grammar gives the new text the same probability."""
    rng = random.Random(seed)
    mapping = {}
    for people in (data.GIRLS, data.BOYS):
        names = [p.name for p in people]
        shuffled = names[:]
        while any(x == y for x, y in zip(names, shuffled)):  # every name changes
            rng.shuffle(shuffled)
        mapping.update(zip(names, shuffled))
    return _NAME.sub(lambda m: mapping[m.group(1)], text)


@torch.no_grad()
def text_nlls(model, tokenizer, texts: Sequence[str], batch_size: int = 16) -> list[float]:
    """Each text's mean negative log-likelihood per predicted token (nats), scored as the model saw
    documents in training: ``<|endoftext|> text <|endoftext|>``; padded batches, padding masked."""
    eot = tokenizer.convert_tokens_to_ids(data.EOT)
    device = next(model.parameters()).device
    rows = [[eot] + tokenizer.encode(text) + [eot] for text in texts]
    nlls = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        T = max(len(r) for r in chunk)
        ids = torch.tensor([r + [eot] * (T - len(r)) for r in chunk], device=device)  # (B, T)
        mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in chunk], device=device)  # (B, T)
        logits = model(ids, attention_mask=mask).logits  # (B, T, V)
        nll = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), ids[:, 1:], reduction="none")  # (B, T-1)
        counted = mask[:, 1:].float()
        nlls += ((nll * counted).sum(1) / counted.sum(1)).tolist()
    return nlls


_SUM = re.compile(r"What is (\d+) plus (\d+)\?")


def perturb_sum(item: QuizItem, seed: int = 0, avoid: frozenset[tuple[int, int]] = frozenset()) -> QuizItem:
    """A "What is x plus y?" item with other numbers (0-9, a pair not in ``avoid``) and so another
    answer. The old answer stays among the options, so a model that memorised the item can be
    caught choosing it."""
    match = _SUM.search(item.question)
    if not match:
        raise ValueError("not a 'What is x plus y?' item")
    x0, y0 = int(match.group(1)), int(match.group(2))
    rng = random.Random(seed)
    pairs = [(x, y) for x in range(10) for y in range(10) if x + y != x0 + y0 and (x, y) not in avoid]
    if not pairs:
        raise ValueError("no pair of numbers left to perturb with")
    x, y = rng.choice(pairs)
    question = item.question[: match.start()] + f"What is {x} plus {y}?" + item.question[match.end() :]
    others = rng.sample([str(k) for k in range(19) if k not in (x0 + y0, x + y)], 2)
    options = [str(x + y), str(x0 + y0)] + others
    rng.shuffle(options)
    return QuizItem(question, options, options.index(str(x + y)), item.kind)


def leak(model, tokenizer, texts: Sequence[str], steps: int = 40, lr: float = 1e-3, seed: int = 0):
    """A copy of ``model`` fine-tuned on ``texts`` (each as ``<|endoftext|> text <|endoftext|>``), one
    full batch per step with AdamW: a test set that leaked into training, ``steps`` times over.
    The original model is left unchanged; the copy is returned in eval mode."""
    torch.manual_seed(seed)
    leaked = copy.deepcopy(model).eval()  # eval mode: no dropout, the copy memorises faster
    for p in leaked.parameters():
        p.requires_grad_(True)
    eot = tokenizer.convert_tokens_to_ids(data.EOT)
    device = next(leaked.parameters()).device
    rows = [[eot] + tokenizer.encode(text) + [eot] for text in texts]
    T = max(len(r) for r in rows)
    ids = torch.tensor([r + [eot] * (T - len(r)) for r in rows], device=device)  # (B, T)
    labels = torch.tensor([r + [-100] * (T - len(r)) for r in rows], device=device)  # padding not learned
    optimizer = torch.optim.AdamW(leaked.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(steps):
        loss = leaked(ids, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return leaked.eval()
