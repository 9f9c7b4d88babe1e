"""Sliding-window perplexity: the course's `metrics.sliding_window_perplexity` against the
recipe of Hugging Face's guide "Perplexity of fixed-length models", on course-gpt.

    python bench/perplexity.py [--tokens 8192] [--repeats 3]

Both score the same validation text with windows of the model's full context (512 tokens)
moving by half of it. The guide's loop weights each window's mean loss by the tokens it
scores less one ("label shift"), which is exact for the first window and one token short for
every later one; the course's function sums the exact negative log-likelihoods. So the two
numbers differ slightly, and the timing compares equal amounts of model work.
"""

from __future__ import annotations

import argparse
import math

import torch

from llmcourse import data, models
from llmcourse.metrics import sliding_window_perplexity
from timing import best_seconds


def hf_guide_perplexity(model, input_ids: torch.Tensor, max_length: int, stride: int) -> float:
    """The loop of Hugging Face's perplexity guide (transformers docs, `perplexity.md`)."""
    seq_len = input_ids.size(1)
    nll_sum, n_tokens, prev_end_loc = 0.0, 0, 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc  # may differ from stride on the last loop
        window = input_ids[:, begin_loc:end_loc]
        target_ids = window.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            loss = model(window, labels=target_ids).loss
        num_loss_tokens = (target_ids != -100).sum().item() - target_ids.size(0)  # label shift
        nll_sum += loss.item() * num_loss_tokens
        n_tokens += num_loss_tokens
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return math.exp(nll_sum / n_tokens)


def measure(tokens: int = 8192, repeats: int = 3) -> dict:
    model, tokenizer = models.load("course-gpt", device="cpu")
    model.eval()
    text = data.corpus_text("validation")
    input_ids = tokenizer(text[: tokens * 6], return_tensors="pt")["input_ids"][:, :tokens]  # (1, N)
    max_length = model.config.n_positions
    stride = max_length // 2

    with torch.inference_mode():
        ours = sliding_window_perplexity(model, input_ids, max_length, stride)
        hf = hf_guide_perplexity(model, input_ids, max_length, stride)
        ours_s = best_seconds(
            lambda: sliding_window_perplexity(model, input_ids, max_length, stride), repeats, warm_up=False
        )
        hf_s = best_seconds(lambda: hf_guide_perplexity(model, input_ids, max_length, stride), repeats, warm_up=False)
    return {
        "tokens": input_ids.shape[1],
        "max_length": max_length,
        "stride": stride,
        "ours_s": ours_s,
        "ours_ppl": ours,
        "hf_s": hf_s,
        "hf_ppl": hf,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    r = measure(args.tokens, args.repeats)
    print(f"{r['tokens']} tokens, windows of {r['max_length']} every {r['stride']}")
    print(f"course sliding_window_perplexity: {r['ours_ppl']:.4f} in {r['ours_s']:.2f} s")
    print(f"Hugging Face guide's loop:        {r['hf_ppl']:.4f} in {r['hf_s']:.2f} s")
    print(f"time ratio: {r['ours_s'] / r['hf_s']:.2f}x")


if __name__ == "__main__":
    main()
