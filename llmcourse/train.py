"""Train the course's GPT on the generated corpus and save it as a Hugging Face model folder.

    python -m llmcourse.train                          # the bundled checkpoint "course-gpt"
    python -m llmcourse.train --preset tiny --out-dir /tmp/tiny   # a few seconds, for tests
    torchrun --nproc_per_node 2 -m llmcourse.train ...            # data-parallel (DDP)

One process or many, the run is the same: every step draws the same *global* batch of
windows from a seeded generator, and each of the ``N`` processes trains on its ``1/N`` slice.
DDP averages the gradients, so the update equals that of one process on the whole batch.
GPU when there is one (NCCL), CPU otherwise (gloo).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

import llmcourse
from llmcourse import bpe, data
from llmcourse.gpt import GPT, GPTConfig, generate, to_hf

DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "checkpoints" / "course-gpt"
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] | capitalize }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
SAMPLE_PROMPTS = (
    "Once upon a time, there was a little",
    "Question: What is 3 plus 4?\nAnswer:",
    "Lucy: Good morning, Tom!\nTom:",
    "Dear diary,",
)


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved next to the checkpoint)."""

    vocab_size: int = 2048  # an upper bound: BPE stops earlier when no pair is left to merge
    block_size: int = 512
    n_layer: int = 4
    n_head: int = 6
    n_embd: int = 192
    batch_size: int = 8  # global: sequences per optimizer step, over all processes
    max_steps: int = 1800
    lr: float = 1.5e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 150
    eval_documents: int = 100  # validation documents for the curve; the final figure uses all
    train_documents: int | None = None  # None = the whole train split
    seed: int = 1337
    amp: bool = True  # bfloat16 autocast on CUDA (mixed precision); ignored on CPU and MPS


PRESETS = {
    "course": TrainConfig(),
    "tiny": TrainConfig(
        vocab_size=320,
        block_size=64,
        n_layer=2,
        n_head=2,
        n_embd=32,
        batch_size=8,
        max_steps=12,
        warmup_steps=2,
        eval_every=6,
        eval_documents=10,
        train_documents=200,
    ),
}


# ---------------------------------------------------------------- distributed set-up


@dataclass
class Runtime:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start_runtime() -> Runtime:
    """One process, or one of ``torchrun``'s (it sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)."""
    if "RANK" not in os.environ:
        return Runtime(0, 1, llmcourse.device())
    use_cuda = torch.cuda.is_available()
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if use_cuda:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))
    return Runtime(rank, world_size, device)


def mean_over_processes(value: torch.Tensor, runtime: Runtime) -> float:
    if runtime.world_size > 1:
        value = value.detach().clone()
        dist.all_reduce(value)
        value /= runtime.world_size
    return value.item()


# ---------------------------------------------------------------- data


def token_stream(tokenizer, documents: Sequence[data.Document]) -> torch.Tensor:
    """All documents as one 1-D tensor of ids, each document preceded by the EOT token."""
    eot = tokenizer.token_to_id(data.EOT)
    ids = [eot]
    for encoding in tokenizer.encode_batch([d.text for d in documents]):
        ids.extend(encoding.ids)
        ids.append(eot)
    return torch.tensor(ids, dtype=torch.long)


def sample_windows(stream: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator):
    """``batch_size`` random windows: inputs ``x (B, T)`` and next-token targets ``y (B, T)``."""
    starts = torch.randint(len(stream) - block_size - 1, (batch_size,), generator=generator)
    x = torch.stack([stream[s : s + block_size] for s in starts.tolist()])
    y = torch.stack([stream[s + 1 : s + 1 + block_size] for s in starts.tolist()])
    return x, y


def _logits(model, idx: torch.Tensor) -> torch.Tensor:
    out = model(idx)
    return out[0] if isinstance(out, tuple) else out.logits  # course GPT or Hugging Face model


def _context_length(model) -> int:
    config = model.config
    return getattr(config, "block_size", None) or config.n_positions


def _windows(n: int, context: int) -> list[tuple[int, int, int]]:
    """``(begin, end, first_scored)`` windows over ``n`` positions: each window sees at most
    ``context`` positions and scores only those no earlier window scored (stride context/2)."""
    if n <= context:
        return [(0, n, 0)]
    windows, scored_up_to = [], 0
    for begin in range(0, n, max(1, context // 2)):
        end = min(begin + context, n)
        windows.append((begin, end, scored_up_to))
        scored_up_to = end
        if end == n:
            break
    return windows


@torch.no_grad()
def document_cross_entropy(
    model, encode, documents: Sequence[data.Document], eot_id: int, batch_size: int = 16
) -> float:
    """Mean cross-entropy in nats per token of whole documents.

    Each document is scored as ``EOT doc EOT``: the model predicts every token of the document
    and the closing EOT from the start of the document. That is exactly the count of tokens
    :func:`llmcourse.data.entropy_floor` divides by, so the two figures are comparable.
    Documents longer than the model's context are scored with a sliding window. Works with
    the course's :class:`GPT` and with Hugging Face causal LMs.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    context = _context_length(model)
    # Every (document, window) piece is one row: inputs, targets, and which targets count.
    pieces = []
    for doc in documents:
        ids = encode(doc.text)
        x, y = [eot_id] + ids, ids + [eot_id]
        for begin, end, first_scored in _windows(len(x), context):
            y_masked = [-100] * (first_scored - begin) + y[first_scored:end]
            pieces.append((x[begin:end], y_masked))
    total_nats, total_tokens = 0.0, 0
    for start in range(0, len(pieces), batch_size):
        batch = pieces[start : start + batch_size]
        T = max(len(x) for x, _ in batch)
        x = torch.full((len(batch), T), eot_id, dtype=torch.long)  # right padding: causal, so harmless
        y = torch.full((len(batch), T), -100, dtype=torch.long)
        for row, (xs, ys) in enumerate(batch):
            x[row, : len(xs)] = torch.tensor(xs)
            y[row, : len(ys)] = torch.tensor(ys)
        logits = _logits(model, x.to(device)).float()  # (B, T, V)
        nats = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), y.to(device).flatten(), ignore_index=-100, reduction="sum"
        )
        total_nats += nats.item()
        total_tokens += int((y != -100).sum())
    model.train(was_training)
    return total_nats / total_tokens


# ---------------------------------------------------------------- training


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(model: GPT, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with weight decay on matrices only (not on biases, LayerNorms)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


def train_step(
    model: torch.nn.Module,
    batch: tuple[torch.Tensor, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float,
) -> float:
    """One optimisation step on ``batch = (x, y)``, inputs and next-token targets ``(B, T)``.

    The model is put in training mode; ``model(x, y)`` must return ``(logits, loss)``. The
    gradients are cleared first (none is carried over from an earlier step), and clipped so that
    their global norm over all parameters is at most ``max_grad_norm`` before the update, as
    ``transformers.Trainer`` does. Returns the batch's loss before the update, as a Python float.
    """
    x, y = batch
    model.train()
    optimizer.zero_grad(set_to_none=True)
    _, loss = model(x, y)  # mean cross-entropy of the next token
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)  # one norm over every gradient
    optimizer.step()
    return loss.item()


def train(cfg: TrainConfig, out_dir: Path | None = None, runtime: Runtime | None = None) -> dict:
    """Run training; the main process saves the model folder to ``out_dir`` (when given).

    Returns the metrics: the training losses per step, the validation curve, the final
    validation cross-entropy next to the corpus's entropy floor, and the time taken.
    """
    runtime = runtime or start_runtime()
    if cfg.batch_size % runtime.world_size:
        raise ValueError(f"batch_size={cfg.batch_size} must be divisible by the {runtime.world_size} processes")
    started = time.time()
    torch.manual_seed(cfg.seed)

    train_docs = data.load_corpus("train")[: cfg.train_documents]
    val_docs = data.load_corpus("validation")
    tokenizer = bpe.train_fast([d.text for d in train_docs], cfg.vocab_size)  # deterministic: same on every rank
    stream = token_stream(tokenizer, train_docs)
    eot = tokenizer.token_to_id(data.EOT)
    encode = lambda text: tokenizer.encode(text).ids  # noqa: E731

    model_cfg = GPTConfig(
        vocab_size=tokenizer.get_vocab_size(),
        block_size=cfg.block_size,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
    )
    model = GPT(model_cfg).to(runtime.device)
    ddp_model = torch.nn.parallel.DistributedDataParallel(model) if runtime.world_size > 1 else model
    optimizer = make_optimizer(model, cfg)

    generator = torch.Generator().manual_seed(cfg.seed)  # same global batches on every rank
    local = cfg.batch_size // runtime.world_size
    rows = slice(runtime.rank * local, (runtime.rank + 1) * local)
    losses, curve = [], []
    mixed_precision = cfg.amp and runtime.device.type == "cuda"
    progress = tqdm(range(cfg.max_steps), desc="training", disable=not runtime.is_main)
    for step in progress:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        x, y = sample_windows(stream, cfg.batch_size, cfg.block_size, generator)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=mixed_precision):  # weights stay float32
            _, loss = ddp_model(x[rows].to(runtime.device), y[rows].to(runtime.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        losses.append(mean_over_processes(loss, runtime))
        progress.set_postfix(loss=f"{losses[-1]:.3f}")
        if runtime.is_main and ((step + 1) % cfg.eval_every == 0 or step + 1 == cfg.max_steps):
            curve.append((step + 1, document_cross_entropy(model, encode, val_docs[: cfg.eval_documents], eot)))

    metrics = {"train_losses": losses, "validation_curve": curve, "train_seconds": time.time() - started}
    if runtime.is_main:
        count = lambda text: len(encode(text))  # noqa: E731
        metrics.update(
            validation_cross_entropy=document_cross_entropy(model, encode, val_docs, eot),
            entropy_floor=data.entropy_floor(val_docs, count),
            validation_tokens=sum(count(d.text) + 1 for d in val_docs),
            train_tokens=len(stream),
            tokens_seen=cfg.max_steps * cfg.batch_size * cfg.block_size,
            parameters=model.num_parameters(),
            world_size=runtime.world_size,
            device=str(runtime.device),
            mixed_precision="bfloat16 autocast" if mixed_precision else "float32",
        )
        if out_dir is not None:
            save_checkpoint(model, tokenizer, cfg, metrics, Path(out_dir))
    if runtime.world_size > 1:
        dist.barrier()
    return metrics


# ---------------------------------------------------------------- saving


def sample_generations(model: GPT, tokenizer, max_new_tokens: int = 60) -> list[tuple[str, str]]:
    """Greedy continuations of :data:`SAMPLE_PROMPTS`, stopped at the end of a document."""
    eot = tokenizer.token_to_id(data.EOT)
    device = next(model.parameters()).device
    samples = []
    for prompt in SAMPLE_PROMPTS:
        ids = torch.tensor([[eot] + tokenizer.encode(prompt).ids], device=device)
        n = min(max_new_tokens, model.config.block_size - ids.shape[1])
        out = generate(model, ids, n, eos_token_id=eot)[0, ids.shape[1] :].tolist()
        samples.append((prompt, tokenizer.decode([t for t in out if t != eot], skip_special_tokens=False)))
    return samples


def save_loss_curve(metrics: dict, floor: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(range(1, len(metrics["train_losses"]) + 1), metrics["train_losses"], alpha=0.6, label="train (batch)")
    if metrics["validation_curve"]:
        steps, values = zip(*metrics["validation_curve"])
        ax.plot(steps, values, marker="o", label="validation (documents)")
    ax.axhline(floor, color="black", linestyle="--", label=f"entropy floor {floor:.3f}")
    ax.set(xlabel="step", ylabel="cross-entropy (nats / token)", yscale="log", title="course-gpt training")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_checkpoint(model: GPT, tokenizer, cfg: TrainConfig, metrics: dict, out_dir: Path) -> None:
    """Write a folder that ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained`` load."""
    out_dir.mkdir(parents=True, exist_ok=True)
    eot = tokenizer.token_to_id(data.EOT)
    hf_model = to_hf(model.cpu().eval())
    hf_model.config.bos_token_id = hf_model.config.eos_token_id = hf_model.config.pad_token_id = eot
    hf_model.generation_config.bos_token_id = hf_model.generation_config.eos_token_id = eot
    hf_model.generation_config.pad_token_id = eot
    hf_model.save_pretrained(out_dir, safe_serialization=True)
    hf_tokenizer = bpe.to_hf(tokenizer, model_max_length=cfg.block_size)
    hf_tokenizer.chat_template = CHAT_TEMPLATE
    hf_tokenizer.save_pretrained(out_dir)
    # transformers 5 records its own backend class name, which transformers 4 cannot import.
    tokenizer_config = json.loads((out_dir / "tokenizer_config.json").read_text())
    tokenizer_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    save_loss_curve(metrics, metrics["entropy_floor"], out_dir / "loss_curve.png")
    summary = {k: v for k, v in metrics.items() if k not in ("train_losses",)}
    summary["final_train_loss"] = metrics["train_losses"][-1]
    summary["train_config"] = dataclasses.asdict(cfg)
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / "README.md").write_text(model_card(cfg, summary, sample_generations(model, tokenizer)))


def model_card(cfg: TrainConfig, m: dict, samples: list[tuple[str, str]]) -> str:
    ce, floor = m["validation_cross_entropy"], m["entropy_floor"]
    sample_text = "\n\n".join(f"**Prompt** `{p!r}`\n\n```text\n{p}{s}\n```" for p, s in samples)
    return f"""---
library_name: transformers
license: mit
pipeline_tag: text-generation
tags: [gpt2, education, synthetic-data]
---

# course-gpt

A small GPT-2-style model trained from scratch for the course *LLMs from the inside*, on the
course's own generated corpus (`llmcourse.data`: stories, dialogues, questions with answers and
diary entries written by a probabilistic grammar, so the probability of every document is known
exactly). It is meant for teaching, not for any real use.

## Model

| | |
|---|---|
| architecture | GPT-2 (`GPT2LMHeadModel`): pre-LN blocks, learned positions, tied embeddings |
| layers / heads / width | {cfg.n_layer} / {cfg.n_head} / {cfg.n_embd} |
| context | {cfg.block_size} tokens |
| vocabulary | {m["train_config"]["vocab_size"]} requested; byte-level BPE trained on the corpus (`llmcourse.bpe`), `<|endoftext|>` = id 0 |
| parameters | {m["parameters"]:,} |

## Training

| | |
|---|---|
| data | train split: {m["train_tokens"]:,} tokens; {m["tokens_seen"]:,} tokens seen ({m["tokens_seen"] / m["train_tokens"]:.1f} epochs) |
| optimisation | AdamW (0.9, 0.95), lr {cfg.lr} with {cfg.warmup_steps} warm-up steps and cosine decay to {cfg.min_lr}, weight decay {cfg.weight_decay}, {cfg.max_steps} steps of {cfg.batch_size} x {cfg.block_size} tokens |
| hardware | {m["world_size"]} process{"es" if m["world_size"] > 1 else ""} on `{m["device"]}`; {m["train_seconds"] / 60:.1f} minutes |
| command | `python -m llmcourse.train` |

## Evaluation (validation split, {m["validation_tokens"]:,} tokens)

| | nats / token | perplexity |
|---|---|---|
| course-gpt | {ce:.4f} | {math.exp(ce):.3f} |
| entropy floor of the corpus (the best any model can do in expectation) | {floor:.4f} | {math.exp(floor):.3f} |

The model's cross-entropy is {100 * (ce / floor - 1):.1f}% above the floor. Each document is scored as
`<|endoftext|> document <|endoftext|>`, predicting the document and its end; `metrics.json`
holds the exact figures and `loss_curve.png` the training curve.

## Samples (greedy)

{sample_text}

## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained(path)
tokenizer = AutoTokenizer.from_pretrained(path)
```
or `llmcourse.models.load("course-gpt")`.
"""  # noqa: E501 - Markdown: a figure's alt text and a table's rows are one line each


def parse_args(argv: Sequence[str] | None = None) -> tuple[TrainConfig, Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="course")
    parser.add_argument("--out-dir", type=Path, default=None, help=f"default: {DEFAULT_OUT_DIR} for the course preset")
    for field in dataclasses.fields(TrainConfig):
        if field.name == "train_documents":
            continue
        if isinstance(field.default, bool):
            parser.add_argument(
                f"--{field.name.replace('_', '-')}", action=argparse.BooleanOptionalAction, default=None
            )
        else:
            parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=None)
    args = parser.parse_args(argv)
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if getattr(args, f.name, None) is not None
    }
    cfg = dataclasses.replace(PRESETS[args.preset], **overrides)
    if args.out_dir is None and args.preset != "course":
        parser.error("--out-dir is required with a preset other than 'course' (so the bundled checkpoint stays intact)")
    return cfg, args.out_dir or DEFAULT_OUT_DIR


def main(argv: Sequence[str] | None = None) -> None:
    cfg, out_dir = parse_args(argv)
    runtime = start_runtime()
    metrics = train(cfg, out_dir, runtime)
    if runtime.is_main:
        print(
            f"validation cross-entropy {metrics['validation_cross_entropy']:.4f} nats/token "
            f"(floor {metrics['entropy_floor']:.4f}); {metrics['train_seconds'] / 60:.1f} min; saved to {out_dir}"
        )
    if runtime.world_size > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
