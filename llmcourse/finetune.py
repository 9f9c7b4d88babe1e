"""Supervised fine-tuning (SFT) and instruction tuning of the course model (chapter 07).

An *instruction set* is generated from the corpus grammar's questions (``llmcourse.data``), whose
answers are known: each example is a prompt in the chat form of the course model's template,
``"User: <question>\\nAssistant:"``, and a response ``" <answer>"`` followed by the end-of-text
token. The pretrained model has seen questions only inside documents ("Question: ... Answer: ..."),
so it *continues* such a prompt; after instruction tuning it *answers* it.

The loss of SFT is the causal LM loss on the response tokens only: the labels are the input ids
with the prompt (and the padding) set to -100 (:func:`mask_prompt_tokens`), and
:func:`sft_loss` is then exactly Hugging Face's loss with those labels.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from llmcourse import data

IGNORE = -100
USER, ASSISTANT = "User: ", "\nAssistant:"


# ---------------------------------------------------------------- the loss


def mask_prompt_tokens(
    input_ids: torch.Tensor, prompt_lengths, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Labels for SFT: a copy of ``input_ids (B, T)`` with the first ``prompt_lengths[b]`` positions
    of row b (prompts start at 0, padding is on the right) and every position where
    ``attention_mask`` is 0 set to -100. ``input_ids`` is not modified."""
    labels = input_ids.clone()
    lengths = torch.as_tensor(prompt_lengths, device=input_ids.device).reshape(-1, 1)
    positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None, :]
    labels[positions < lengths] = IGNORE
    if attention_mask is not None:
        labels[attention_mask == 0] = IGNORE
    return labels


def sft_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits[:, :-1]`` against ``labels[:, 1:]`` over the labels that are
    not -100: what ``GPT2LMHeadModel(input_ids, labels=labels).loss`` computes."""
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V).float(), labels[:, 1:].reshape(-1), ignore_index=IGNORE)


# ---------------------------------------------------------------- the instruction set


@dataclass(frozen=True)
class Example:
    question: str
    answer: str

    @property
    def prompt(self) -> str:
        return f"{USER}{self.question}{ASSISTANT}"

    @property
    def response(self) -> str:
        return f" {self.answer}"


def sample_question(rng: random.Random) -> Example:
    """One question of the corpus grammar with its answer."""
    sampler = data.Sampler(rng)
    sampler.pick(data.QUESTIONS)(sampler)
    question, answer = sampler.text.split("\nAnswer: ")
    return Example(question, answer)


def instruction_set(n_train: int = 2000, n_test: int = 200, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """Training and held-out examples; no held-out question appears in the training set."""
    rng = random.Random(seed)
    test: dict[str, Example] = {}
    while len(test) < n_test:
        ex = sample_question(rng)
        test.setdefault(ex.question, ex)
    train: list[Example] = []
    while len(train) < n_train:
        ex = sample_question(rng)
        if ex.question not in test:
            train.append(ex)
    return train, list(test.values())


def collate(tokenizer, examples: Sequence[Example], eot_id: int | None = None) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``prompt_lengths`` of prompt + response + eot."""
    eot = tokenizer.eos_token_id if eot_id is None else eot_id
    rows, lengths = [], []
    for ex in examples:
        prompt = tokenizer.encode(ex.prompt)
        rows.append(prompt + tokenizer.encode(ex.response) + [eot])
        lengths.append(len(prompt))
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), eot, dtype=torch.long)
    mask = torch.zeros(len(rows), T, dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, : len(r)] = torch.tensor(r)
        mask[b, : len(r)] = 1
    return {"input_ids": ids, "attention_mask": mask, "prompt_lengths": torch.tensor(lengths)}


# ---------------------------------------------------------------- training and evaluation


def _logits(model, ids: torch.Tensor) -> torch.Tensor:
    out = model(ids)
    return out[0] if isinstance(out, tuple) else out.logits if hasattr(out, "logits") else out


def finetune(
    model,
    tokenizer,
    examples: Sequence[Example],
    *,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    loss_fn: Callable = sft_loss,
    mask_fn: Callable = mask_prompt_tokens,
    progress: bool = True,
    desc: str = "fine-tuning",
) -> list[float]:
    """SFT of ``model`` (its parameters with ``requires_grad``) with AdamW on random batches of
    ``examples``; returns the loss of every step."""
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    rng = random.Random(seed)
    losses: list[float] = []
    model.train()
    bar = tqdm(range(steps), desc=desc, disable=not progress)
    for step in bar:
        batch = collate(tokenizer, rng.sample(list(examples), min(batch_size, len(examples))))
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        labels = mask_fn(ids, batch["prompt_lengths"].to(device), mask)
        loss = loss_fn(_logits(model, ids), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    return losses


@torch.no_grad()
def answer(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 24) -> list[str]:
    """Greedy continuations of ``prompts`` (batched by prompt length), cut at end-of-text or a newline."""
    from llmcourse.gpt import generate

    device = next(model.parameters()).device
    eot = tokenizer.eos_token_id
    encoded = [tokenizer.encode(p) for p in prompts]
    out: list[str | None] = [None] * len(prompts)
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        by_length.setdefault(len(ids), []).append(i)
    model.eval()
    for indices in by_length.values():
        idx = torch.tensor([encoded[i] for i in indices], device=device)
        new = generate(model, idx, max_new_tokens, eos_token_id=eot)[:, idx.shape[1] :]
        for i, row in zip(indices, new.tolist()):
            row = row[: row.index(eot)] if eot in row else row
            out[i] = tokenizer.decode(row)
    return [o.split("\n")[0] for o in out]


def exact_match(model, tokenizer, examples: Sequence[Example]) -> tuple[float, list[str]]:
    """Share of ``examples`` whose greedy answer (stripped) equals the known answer, and the answers."""
    answers = answer(model, tokenizer, [ex.prompt for ex in examples])
    hits = sum(a.strip() == ex.answer for a, ex in zip(answers, examples))
    return hits / max(1, len(examples)), answers


def timed_steps(
    model, tokenizer, examples: Sequence[Example], steps: int = 5, batch_size: int = 32, lr: float = 1e-3
) -> float:
    """Median seconds of one SFT step (after one warm-up step)."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    device = next(model.parameters()).device
    batch = collate(tokenizer, list(examples)[:batch_size])
    ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
    labels = mask_prompt_tokens(ids, batch["prompt_lengths"].to(device), mask)
    times = []
    model.train()
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss = sft_loss(_logits(model, ids), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    model.eval()
    return sorted(times[1:])[len(times[1:]) // 2]


def optimizer_state_bytes(model) -> int:
    """Bytes of AdamW's state (two moments per trainable parameter) after one step; the weights are unchanged."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=0.0, weight_decay=0.0)  # a step that changes nothing
    for p in params:
        p.grad = torch.zeros_like(p)
    optimizer.step()
    size = sum(
        t.numel() * t.element_size()
        for state in optimizer.state.values()
        for t in state.values()
        if isinstance(t, torch.Tensor) and t.dim() > 0
    )
    for p in params:
        p.grad = None
    return size


@contextmanager
def cpu_threads(n: int = 1) -> Iterator[None]:
    """PyTorch's CPU threads set to ``n`` inside the block, then restored. The demos' models are small:
    more threads gain little on their matrices and wait for each other, badly so on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------- a narrow task: which number is bigger


@dataclass(frozen=True)
class TaskExample(Example):
    """An example for a task-specific model: the bare question is the prompt (no chat template)."""

    @property
    def prompt(self) -> str:
        return self.question


def bigger_number_set(n_train: int = 1500, n_test: int = 100, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """The grammar's "Which number is bigger, x or y?" (x != y, 0 to 50) with answers such as ``"37."``;
    no held-out pair (in either order) appears in the training set."""
    rng = random.Random(seed)

    def draw() -> tuple[int, int]:
        x = rng.randrange(51)
        return x, rng.choice([y for y in range(51) if y != x])

    test: dict[frozenset, Example] = {}
    while len(test) < n_test:
        x, y = draw()
        test.setdefault(frozenset((x, y)), Example(f"Which number is bigger, {x} or {y}?", f"{max(x, y)}."))
    train: list[Example] = []
    while len(train) < n_train:
        x, y = draw()
        if frozenset((x, y)) not in test:
            train.append(Example(f"Which number is bigger, {x} or {y}?", f"{max(x, y)}."))
    return train, list(test.values())


def as_task_examples(examples: Sequence[Example]) -> list[TaskExample]:
    """The same questions and answers, prompted without the chat template."""
    return [TaskExample(ex.question, ex.answer) for ex in examples]


# ---------------------------------------------------------------- domain-adaptive (continued) pretraining

DOMAINS: dict[str, Callable[[data.Chooser], None]] = {
    "story": data.story,
    "dialogue": data.dialogue,
    "questions": data.questions,
    "diary": data.diary,
}


def domain_documents(domain: str, n: int, seed: int) -> list[data.Document]:
    """``n`` documents of one kind of the corpus grammar (a key of :data:`DOMAINS`), drawn with ``seed``."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        sampler = data.Sampler(rng)
        DOMAINS[domain](sampler)
        docs.append(data.Document(sampler.text, sampler.log_prob))
    return docs


def text_stream(tokenizer, documents: Sequence[data.Document]) -> torch.Tensor:
    """All documents as one 1-D tensor of token ids, each preceded by end-of-text and the last followed by it."""
    eot = tokenizer.eos_token_id
    ids = [eot]
    for doc in documents:
        ids += tokenizer.encode(doc.text) + [eot]
    return torch.tensor(ids, dtype=torch.long)


def random_windows(
    stream: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of ``stream``: inputs ``x (B, T)`` and next tokens ``y (B, T)``."""
    starts = torch.randint(len(stream) - block_size - 1, (batch_size,), generator=generator).tolist()
    x = torch.stack([stream[s : s + block_size] for s in starts])
    y = torch.stack([stream[s + 1 : s + 1 + block_size] for s in starts])
    return x, y


def continued_pretraining(
    model,
    stream: torch.Tensor,
    *,
    steps: int = 20,
    batch_size: int = 8,
    block_size: int = 128,
    lr: float = 1e-4,
    seed: int = 0,
) -> list[float]:
    """Go on pretraining ``model`` (next-token loss on every token) on random windows of ``stream``,
    with AdamW for a fixed number of steps; returns the loss of every step."""
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    model.train()
    for _ in range(steps):
        x, y = random_windows(stream, batch_size, block_size, generator)
        logits = _logits(model, x.to(device))  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), y.to(device).flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


# ---------------------------------------------------------------- a reward model


class RewardModel(torch.nn.Module):
    """A course GPT's body with a scalar head, as InstructGPT's reward model: the reward of a prompt
    and response is read from the final hidden state of its last token (the end-of-text)."""

    def __init__(self, gpt) -> None:
        super().__init__()
        self.gpt = gpt
        self.head = torch.nn.Linear(gpt.config.n_embd, 1)
        torch.nn.init.zeros_(self.head.weight)  # every reward 0 at the start
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``(B,)`` rewards of right-padded ``input_ids (B, T)``."""
        t = self.gpt.transformer
        B, T = input_ids.shape
        x = t.wte(input_ids) + t.wpe.weight[:T]  # (B, T, C)
        for block in t.h:
            x = block(x)  # (B, T, C)
        x = t.ln_f(x)  # (B, T, C)
        last = attention_mask.sum(dim=1) - 1  # (B,) each row's last token
        return self.head(x[torch.arange(B, device=x.device), last]).squeeze(-1)  # (B,)


def pair_rewards(reward_model: RewardModel, tokenizer, pairs: Sequence) -> tuple[torch.Tensor, torch.Tensor]:
    """``(chosen_rewards, rejected_rewards)``, each ``(B,)``: pairs have ``question``, ``chosen``, ``rejected``."""
    examples = [Example(p.question, p.chosen) for p in pairs] + [Example(p.question, p.rejected) for p in pairs]
    device = next(reward_model.parameters()).device
    batch = collate(tokenizer, examples)
    rewards = reward_model(batch["input_ids"].to(device), batch["attention_mask"].to(device))  # (2B,)
    return rewards[: len(pairs)], rewards[len(pairs) :]


def train_reward_model(
    reward_model: RewardModel,
    tokenizer,
    pairs: Sequence,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    steps: int = 30,
    batch_size: int = 8,
    lr: float = 1e-4,
    seed: int = 0,
) -> list[float]:
    """Train ``reward_model`` with ``loss_fn(chosen_rewards, rejected_rewards)`` (the Bradley-Terry loss)
    and AdamW on random batches of ``pairs``; returns the loss of every step."""
    optimizer = torch.optim.AdamW(reward_model.parameters(), lr=lr, weight_decay=0.0)
    rng = random.Random(seed)
    losses: list[float] = []
    reward_model.train()
    for _ in range(steps):
        chosen, rejected = pair_rewards(reward_model, tokenizer, rng.sample(list(pairs), min(batch_size, len(pairs))))
        loss = loss_fn(chosen, rejected)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    reward_model.eval()
    return losses
