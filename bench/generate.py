"""Tokens per second of the course's `generate` (KV cache) against Hugging Face `generate`.

    python bench/generate.py [--model course-gpt] [--new-tokens 256] [--repeats 5]

Both run greedy decoding of the same model (the bundled checkpoint, converted with
`llmcourse.gpt.from_hf`) on the same prompt, with no early stop, in this one process, taking
turns so that a machine whose speed drifts affects both alike. The figure quoted is the
best of the repeats (the run least disturbed by whatever else the machine was doing); the
ratios are what to compare across machines, not the raw speeds.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from transformers import GenerationConfig

import llmcourse
from llmcourse import models
from llmcourse.gpt import from_hf, generate
from timing import best_seconds, seconds


def measure(
    model: str = "course-gpt",
    new_tokens: int = 256,
    repeats: int = 5,
    batch_sizes: tuple[int, ...] = (1, 8),
    device: str = "cpu",
) -> dict:
    """Tokens per second of the course's `generate` and Hugging Face's, taking turns.

    Returns ``{"rows": [(setting, course tokens/s, HF tokens/s)], "cached": tokens/s,
    "uncached": tokens/s, "parameters", "prompt_tokens", "new_tokens", "device", "threads"}``.
    """
    device = llmcourse.device() if device == "auto" else torch.device(device)
    hf_model, tokenizer = models.load(model, device=device)
    ours = from_hf(hf_model).to(device).eval()
    prompt = tokenizer("Once upon a time, there was a little", return_tensors="pt")["input_ids"].to(device)
    n = new_tokens
    # No eos: both generate exactly n tokens (the model's own generation config would stop at
    # <|endoftext|>, and generate() merges it into any config passed, so clear it there).
    hf_model.generation_config.eos_token_id = None
    hf_config = GenerationConfig(
        max_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=tokenizer.pad_token_id
    )

    def run_hf(idx):
        with torch.inference_mode():
            return hf_model.generate(idx, attention_mask=torch.ones_like(idx), generation_config=hf_config)

    rows = []
    for B in batch_sizes:
        idx = prompt.repeat(B, 1)
        a, b = generate(ours, idx, n), run_hf(idx)  # warm-up, and the two must agree
        if not torch.equal(a, b):
            raise SystemExit(f"batch {B}: the course's generate and Hugging Face's disagree")
        times = {"course (KV cache)": [], "Hugging Face generate": []}
        for _ in range(repeats):
            times["course (KV cache)"].append(seconds(partial(generate, ours, idx, n)))
            times["Hugging Face generate"].append(seconds(partial(run_hf, idx)))
        speeds = {k: B * n / min(v) for k, v in times.items()}
        rows.append((f"batch {B}", speeds["course (KV cache)"], speeds["Hugging Face generate"]))

    cached = best_seconds(lambda: generate(ours, prompt, n), repeats, warm_up=False)
    uncached = best_seconds(lambda: generate(ours, prompt, n, use_cache=False), max(1, repeats // 2), warm_up=False)
    return {
        "rows": rows,
        "cached": n / cached,
        "uncached": n / uncached,
        "parameters": ours.num_parameters(),
        "prompt_tokens": prompt.shape[1],
        "new_tokens": n,
        "device": str(device),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="course-gpt")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto (llmcourse.device())")
    args = parser.parse_args()
    result = measure(args.model, args.new_tokens, args.repeats, tuple(args.batch_sizes), args.device)

    print(
        f"model {args.model}: {result['parameters']:,} parameters; prompt {result['prompt_tokens']} tokens, "
        f"{args.new_tokens} new tokens, greedy; torch {torch.__version__}, {result['device']}, "
        f"{result['threads']} threads; best of {args.repeats}"
    )
    print()
    print("| setting | course generate (tokens/s) | Hugging Face generate (tokens/s) | ratio |")
    print("|---|---|---|---|")
    for name, ours_speed, hf_speed in result["rows"]:
        print(f"| {name} | {ours_speed:,.0f} | {hf_speed:,.0f} | {ours_speed / hf_speed:.2f}x |")
    print()
    print("| batch 1 | tokens/s | ratio |")
    print("|---|---|---|")
    print(f"| course generate, KV cache | {result['cached']:,.0f} | {result['cached'] / result['uncached']:.2f}x |")
    print(f"| course generate, no cache (recompute every step) | {result['uncached']:,.0f} | 1.00x |")


if __name__ == "__main__":
    main()
