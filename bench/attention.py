"""Seconds per attention call: the course's teaching path against PyTorch's fused kernel.

    python bench/attention.py [--lengths 128 256 512 1024 2048] [--repeats 5]

The teaching path (`llmcourse.attention.scaled_dot_product_attention`) builds the (T, T)
matrix of weights and returns it; `torch.nn.functional.scaled_dot_product_attention` picks a
fused kernel that never stores it. Both get the same causal mask, shapes (1, 4, T, 64), float32.
Time grows as T squared for both; the ratio says what materialising the weights costs.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
import torch.nn.functional as F

from llmcourse.attention import causal_mask, scaled_dot_product_attention
from timing import best_seconds

HEADS, HEAD_DIM = 4, 64


def measure(lengths=(128, 256, 512, 1024, 2048), repeats: int = 5) -> list[dict]:
    """One row per length T: ``{"T", "teaching_s", "fused_s", "weights_mib"}`` (best of ``repeats``)."""
    rows = []
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for T in lengths:
            q, k, v = (torch.randn(1, HEADS, T, HEAD_DIM, generator=g) for _ in range(3))  # (B, H, T, d)
            mask = causal_mask(T)  # (T, T), True = may attend
            out, _ = scaled_dot_product_attention(q, k, v, mask)
            torch.testing.assert_close(
                out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), rtol=1e-4, atol=1e-5
            )
            rows.append(
                {
                    "T": T,
                    "teaching_s": best_seconds(partial(scaled_dot_product_attention, q, k, v, mask), repeats),
                    "fused_s": best_seconds(partial(F.scaled_dot_product_attention, q, k, v, attn_mask=mask), repeats),
                    "weights_mib": HEADS * T * T * 4 / 2**20,
                }
            )
    return rows


def figure(rows: list[dict], machine: str):
    """Log-log plot of milliseconds against T for both paths, with a T^2 guide."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = [r["T"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.loglog(T, [1e3 * r["teaching_s"] for r in rows], "o-", label="teaching path (weights materialised)")
    ax.loglog(T, [1e3 * r["fused_s"] for r in rows], "s-", label="F.scaled_dot_product_attention")
    ref = 1e3 * rows[-1]["teaching_s"]
    ax.loglog(T, [ref * (t / T[-1]) ** 2 for t in T], ":", color="grey", label="grows as T²")
    ax.set_xticks(T, [str(t) for t in T])
    ax.minorticks_off()
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("milliseconds per call (best of repeats)")
    ax.set_title(f"Causal attention, 4 heads × 64 dims, float32\nmeasured on {machine}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| T | teaching path (ms) | fused kernel (ms) | ratio | weights (MiB) |")
    print("|---|---|---|---|---|")
    for r in measure(args.lengths, args.repeats):
        print(
            f"| {r['T']} | {1e3 * r['teaching_s']:.2f} | {1e3 * r['fused_s']:.2f} | "
            f"{r['teaching_s'] / r['fused_s']:.2f}x | {r['weights_mib']:.2f} |"
        )


if __name__ == "__main__":
    main()
