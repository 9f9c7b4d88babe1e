"""Preference tuning of the course model (chapter 07): a reward model's loss and DPO.

A *preference pair* is a prompt with two responses, one preferred ("chosen") and one not
("rejected"). RLHF first trains a reward model on such pairs with the Bradley-Terry loss
(:func:`reward_model_loss`); DPO (*Direct Preference Optimization: Your Language Model is Secretly
a Reward Model*, 2023) trains the language model on them directly (:func:`dpo_loss`), with the
log-probabilities of the two responses under the model being trained (the *policy*) and under a
frozen copy of where it started (the *reference*).

The pairs of the demo come from the corpus grammar's questions (``llmcourse.data``): the prompt is
a question in the chat form of :mod:`llmcourse.finetune`, the chosen response its right answer and
the rejected one a corrupted answer (:func:`corrupt`): the answer's words in the wrong order, or
the answer of another question of the same kind.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from llmcourse import data
from llmcourse import finetune as ft

# ---------------------------------------------------------------- the losses


def reward_model_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Bradley-Terry loss of a reward model: the mean over the batch of
    ``-log sigmoid(r_chosen - r_rejected)`` (``(B,)`` rewards in, a 0-dim tensor out).
    ``F.logsigmoid`` keeps it finite for large margins, where ``log(sigmoid(x))`` gives -inf."""
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPO's loss (the sigmoid variant, as TRL's ``DPOTrainer``) and the implicit rewards.

    Each input is ``(B,)``: the summed log-probability of a response given its prompt. Returns
    ``(loss, chosen_rewards, rejected_rewards)``: the mean of ``-log sigmoid(beta * ((pc - rc) - (pr - rr)))``
    and ``beta * (policy - reference)`` of each response, detached (they are for reading, not training).
    """
    chosen_logratios = policy_chosen_logps - ref_chosen_logps  # (B,)
    rejected_logratios = policy_rejected_logps - ref_rejected_logps  # (B,)
    logits = beta * (chosen_logratios - rejected_logratios)  # (B,)
    loss = -F.logsigmoid(logits).mean()
    return loss, beta * chosen_logratios.detach(), beta * rejected_logratios.detach()


# ---------------------------------------------------------------- the preference pairs


@dataclass(frozen=True)
class Pair:
    """A question with a preferred and a dispreferred answer."""

    question: str
    chosen: str
    rejected: str
    corruption: str  # "word order" or "wrong answer"

    @property
    def prompt(self) -> str:
        return ft.Example(self.question, self.chosen).prompt


def _question(rng: random.Random, kind: Callable) -> tuple[str, str]:
    sampler = data.Sampler(rng)
    kind(sampler)
    question, answer = sampler.text.split("\nAnswer: ")
    return question, answer


def corrupt(rng: random.Random, answer: str, kind: Callable) -> tuple[str, str]:
    """A corrupted ``answer`` and how it was corrupted: two neighbouring words swapped when the
    answer has at least three words (half of the time), else the answer of another question of
    the same ``kind`` (a grammar function of ``data.QUESTIONS``)."""
    words = answer.split(" ")
    if len(words) >= 3 and rng.random() < 0.5:
        i = rng.randrange(len(words) - 1)
        if words[i] != words[i + 1]:
            words[i], words[i + 1] = words[i + 1], words[i]
            return " ".join(words), "word order"
    for _ in range(100):
        _, other = _question(rng, kind)
        if other != answer:
            return other, "wrong answer"
    raise ValueError(f"no other answer than {answer!r} for this kind of question")


def preference_pairs(n_train: int = 600, n_test: int = 100, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """Training and held-out pairs; no held-out question appears among the training pairs."""
    rng = random.Random(seed)

    def sample() -> Pair:
        kind = rng.choice(data.QUESTIONS)
        question, answer = _question(rng, kind)
        rejected, how = corrupt(rng, answer, kind)
        return Pair(question, answer, rejected, how)

    test: dict[str, Pair] = {}
    while len(test) < n_test:
        pair = sample()
        test.setdefault(pair.question, pair)
    train: list[Pair] = []
    while len(train) < n_train:
        pair = sample()
        if pair.question not in test:
            train.append(pair)
    return train, list(test.values())


# ---------------------------------------------------------------- log-probabilities of responses


def sequence_logps(model, tokenizer, examples: Sequence[ft.Example]) -> torch.Tensor:
    """``(N,)``: the summed log-probability of each example's response tokens (and end-of-text)
    given its prompt, under ``model``; differentiable (wrap in ``torch.no_grad()`` to evaluate)."""
    device = next(model.parameters()).device
    batch = ft.collate(tokenizer, examples)
    ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)  # (N, T)
    labels = ft.mask_prompt_tokens(ids, batch["prompt_lengths"].to(device), mask)[:, 1:]  # (N, T-1)
    log_probs = F.log_softmax(ft._logits(model, ids)[:, :-1].float(), dim=-1)  # (N, T-1, V)
    counted = labels != ft.IGNORE
    token_logps = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (N, T-1)
    return (token_logps * counted).sum(-1)


def pair_logps(model, tokenizer, pairs: Sequence[Pair]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(chosen_logps, rejected_logps)``, each ``(B,)``, in one forward pass of the 2B responses."""
    examples = [ft.Example(p.question, p.chosen) for p in pairs] + [ft.Example(p.question, p.rejected) for p in pairs]
    logps = sequence_logps(model, tokenizer, examples)
    return logps[: len(pairs)], logps[len(pairs) :]


@torch.no_grad()
def evaluate(
    policy, reference, tokenizer, pairs: Sequence[Pair], beta: float = 0.1, batch_size: int = 64
) -> dict[str, dict[str, float]]:
    """Held-out measures of all ``pairs`` (key ``"all"``) and of each kind of corruption:
    ``accuracy``, the share of pairs where the policy gives the chosen answer the higher log-probability;
    ``logp_margin``, the mean of log p(chosen) - log p(rejected); and DPO's implicit rewards against
    ``reference``: ``reward_margin`` (mean chosen - rejected reward) and ``reward_accuracy`` (share with
    chosen reward > rejected reward, as TRL logs it; 0 while the policy is the reference)."""
    policy.eval()
    reference.eval()
    logps: dict[str, list[torch.Tensor]] = {"pc": [], "pr": [], "rc": [], "rr": []}
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        for keys, model in ((("pc", "pr"), policy), (("rc", "rr"), reference)):
            for key, values in zip(keys, pair_logps(model, tokenizer, chunk)):
                logps[key].append(values)
    pc, pr, rc, rr = (torch.cat(logps[k]) for k in ("pc", "pr", "rc", "rr"))
    _, chosen_rewards, rejected_rewards = dpo_loss(pc, pr, rc, rr, beta)
    groups = {"all": torch.ones(len(pairs), dtype=torch.bool)}
    for kind in sorted({p.corruption for p in pairs}):
        groups[kind] = torch.tensor([p.corruption == kind for p in pairs])
    return {
        name: {
            "accuracy": (pc > pr)[g].float().mean().item(),
            "logp_margin": (pc - pr)[g].mean().item(),
            "reward_margin": (chosen_rewards - rejected_rewards)[g].mean().item(),
            "reward_accuracy": (chosen_rewards > rejected_rewards)[g].float().mean().item(),
        }
        for name, g in groups.items()
    }


# ---------------------------------------------------------------- training


def dpo_train(
    policy,
    reference,
    tokenizer,
    pairs: Sequence[Pair],
    *,
    steps: int = 30,
    batch_size: int = 16,
    lr: float = 1e-4,
    beta: float = 0.1,
    seed: int = 0,
    loss_fn: Callable = dpo_loss,
    progress: bool = True,
) -> dict[str, list[float]]:
    """DPO of ``policy`` against the frozen ``reference`` with AdamW on random batches of ``pairs``,
    for a budget of ``steps`` steps; the reference's log-probabilities are computed once, first.
    Returns the loss, the reward margin and the reward accuracy of every step's batch."""
    from tqdm.auto import tqdm

    pairs = list(pairs)
    reference.eval()
    with torch.no_grad():  # the reference never changes: score every pair once
        ref = [pair_logps(reference, tokenizer, pairs[i : i + 64]) for i in range(0, len(pairs), 64)]
    ref_chosen = torch.cat([c for c, _ in ref])
    ref_rejected = torch.cat([r for _, r in ref])
    params = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    rng = random.Random(seed)
    history: dict[str, list[float]] = {"loss": [], "reward_margin": [], "reward_accuracy": []}
    policy.train()
    bar = tqdm(range(steps), desc="DPO", disable=not progress)
    for _ in bar:
        index = rng.sample(range(len(pairs)), min(batch_size, len(pairs)))
        policy_chosen, policy_rejected = pair_logps(policy, tokenizer, [pairs[i] for i in index])
        loss, chosen_rewards, rejected_rewards = loss_fn(
            policy_chosen, policy_rejected, ref_chosen[index], ref_rejected[index], beta
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history["loss"].append(loss.item())
        history["reward_margin"].append((chosen_rewards - rejected_rewards).mean().item())
        history["reward_accuracy"].append((chosen_rewards > rejected_rewards).float().mean().item())
        bar.set_postfix(loss=f"{loss.item():.3f}")
    policy.eval()
    return history
