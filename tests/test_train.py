"""The training entry point: tiny runs on one and two processes, and what it saves."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from llmcourse import data, train

ROOT = Path(__file__).resolve().parents[1]


def _run(args, **env):
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    result = subprocess.run(args, capture_output=True, text=True, env=environment, cwd=ROOT, timeout=600)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    _run([sys.executable, "-m", "llmcourse.train", "--preset", "tiny", "--out-dir", str(out)])
    return out


def test_single_process_run_saves_a_loadable_model(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert len(metrics["validation_curve"]) == 2
    assert metrics["validation_cross_entropy"] > metrics["entropy_floor"] > 0
    for name in (
        "model.safetensors",
        "tokenizer.json",
        "config.json",
        "README.md",
        "loss_curve.png",
        "chat_template.jinja",
    ):
        assert (tiny_run / name).exists(), name
    model = AutoModelForCausalLM.from_pretrained(tiny_run)
    tokenizer = AutoTokenizer.from_pretrained(tiny_run)
    assert tokenizer.eos_token == data.EOT and model.config.eos_token_id == tokenizer.eos_token_id
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert chat == "User: Hi\nAssistant:"
    recomputed = train.document_cross_entropy(
        model, lambda t: tokenizer(t)["input_ids"], data.load_corpus("validation"), tokenizer.eos_token_id
    )
    assert math.isclose(recomputed, metrics["validation_cross_entropy"], rel_tol=1e-4), (
        recomputed,
        metrics["validation_cross_entropy"],
    )
    assert f"{metrics['validation_cross_entropy']:.4f}" in (tiny_run / "README.md").read_text()


def test_training_loss_falls(tiny_run):
    losses = json.loads((tiny_run / "metrics.json").read_text())["validation_curve"]
    assert losses[-1][1] < losses[0][1]


def test_two_processes_match_one_on_the_same_global_batch(tmp_path):
    """torchrun with 2 CPU processes (gloo): every step's loss equals the 1-process loss."""
    script = tmp_path / "run.py"
    script.write_text(
        "import json, sys\n"
        "from llmcourse import train\n"
        "cfg = train.PRESETS['tiny']\n"
        "metrics = train.train(cfg, out_dir=None)\n"
        "if train.dist.is_initialized() and train.dist.get_rank() != 0: sys.exit(0)\n"
        "json.dump(metrics['train_losses'], open(sys.argv[1], 'w'))\n"
    )
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    _run([sys.executable, str(script), str(one)])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517"]
    _run(torchrun + [str(script), str(two)], OMP_NUM_THREADS="1")
    single, ddp = json.loads(one.read_text()), json.loads(two.read_text())
    assert len(single) == len(ddp) == train.PRESETS["tiny"].max_steps
    for step, (a, b) in enumerate(zip(single, ddp)):
        assert abs(a - b) < 1e-4, f"step {step}: one process {a:.6f}, two processes {b:.6f}"


def test_learning_rate_schedule():
    cfg = train.TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=110)
    assert train.learning_rate(0, cfg) == pytest.approx(0.1)
    assert train.learning_rate(9, cfg) == pytest.approx(1.0)
    assert train.learning_rate(60, cfg) == pytest.approx(0.55)
    assert train.learning_rate(110, cfg) == pytest.approx(0.1)


def test_sliding_windows_score_every_position_once():
    for n, context in [(5, 8), (8, 8), (9, 8), (100, 16), (33, 7)]:
        windows = train._windows(n, context)
        scored = [i for begin, end, first in windows for i in range(first, end)]
        assert scored == list(range(n)), (n, context, windows)
        assert all(end - begin <= context for begin, end, _ in windows)


def test_document_cross_entropy_matches_a_direct_computation():
    """Against torch's cross-entropy of each ``EOT doc EOT`` sequence, one document at a time."""
    from llmcourse.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=32, n_layer=1, n_head=2, n_embd=16)).eval()
    encode = lambda text: [ord(c) % 49 + 1 for c in text]  # noqa: E731
    docs = [data.Document(text, 0.0) for text in ("hello", "a", "abcdefghij" * 2, "xyz")]
    total, count = 0.0, 0
    for doc in docs:
        ids = torch.tensor([[0] + encode(doc.text) + [0]])
        logits = model(ids[:, :-1])[0][0]
        total += torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum").item()
        count += ids.shape[1] - 1
    assert train.document_cross_entropy(model, encode, docs, eot_id=0, batch_size=3) == pytest.approx(
        total / count, rel=1e-5
    )


def test_cli_refuses_to_overwrite_the_bundled_checkpoint_with_a_tiny_run():
    with pytest.raises(SystemExit):
        train.parse_args(["--preset", "tiny"])


def test_train_step_clears_clips_and_returns_a_float():
    """train.train_step: train mode, no gradient carried over, one global norm, one update."""
    from llmcourse.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8)).eval()
    twin = GPT(model.config)
    twin.load_state_dict(model.state_dict())
    x, y = torch.randint(11, (2, 8)), torch.randint(11, (2, 8))
    for p in model.parameters():  # stale gradients must not reach the step
        p.grad = torch.ones_like(p)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = train.train_step(model, (x, y), optimizer, max_grad_norm=0.01)
    assert type(loss) is float and model.training

    _, expected_loss = twin(x, y)
    expected_loss.backward()
    norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in twin.parameters()))
    with torch.no_grad():
        for p in twin.parameters():
            p -= 0.1 * p.grad * min(1.0, 0.01 / (norm.item() + 1e-6))
    assert math.isclose(loss, expected_loss.item(), rel_tol=1e-6)
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b)
