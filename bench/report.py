"""The performance report: every benchmark of the course, one table of ratios, one book page.

    python bench/report.py            # `make bench`: everything (about 20-30 min on 2 cores)
    python bench/report.py --quick    # small sizes, no book build (a smoke test, ~1 min)
    python bench/report.py --rewrite  # the page again from bench/results/results.json

Each benchmark is measured against the peer it names, in this same run:

- generation: the course's `generate` (KV cache) vs Hugging Face `generate` (bench/generate.py);
- grading: the course's engine vs sequential `nbgrader autograde` (bench/grade.py); with its
  operating-system sandbox vs ``--no-isolation``;
- attention: the teaching path vs `F.scaled_dot_product_attention`, by length (bench/attention.py);
- sliding-window perplexity: `metrics.sliding_window_perplexity` vs the loop of Hugging Face's
  perplexity guide (bench/perplexity.py);
- each chapter's execution time, as the book runs it, vs the course's budget of two minutes;
- `make book` warm (nothing changed) vs cold (fresh output, every chapter executed).

It prints the table and writes ``performance.md`` (a page of the book), the figure of time
against sequence length and ``bench/results/results.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402

import attention  # noqa: E402
import generate  # noqa: E402
import perplexity  # noqa: E402

CHAPTER_BUDGET_S = 120.0
PAGE = "performance.md"
RESULTS = "bench/results"


def machine() -> str:
    """A one-line description of this machine: CPU model, cores, memory, torch, GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        kib = int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            )
        )
        memory = f", {kib / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = ""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}, {gpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__}, transformers {transformers.__version__}"
    )


def build_book(out: Path) -> dict:
    """Seconds of a cold build (fresh output folder) and a warm one (the same, again), and
    each chapter's execution time as myst-nb recorded it during the cold build."""
    command = [
        sys.executable,
        str(ROOT / "book" / "build.py"),  # as `make book` builds it: the chapters side by side
        "-W",
        "--keep-going",
        "--path-output",
        str(out),
        str(ROOT),
    ]
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    with open(out / "_build" / ".doctrees" / "environment.pickle", "rb") as f:
        env = pickle.load(f)
    chapters = {
        name.split("/", 1)[1]: meta["exec_data"]["runtime"]
        for name, meta in sorted(env.nb_metadata.items())
        if meta.get("exec_data")
    }
    return {"cold_s": seconds[0], "warm_s": seconds[1], "chapters_s": chapters}


def run(quick: bool, with_book: bool) -> dict:
    transformers.logging.set_verbosity_error()
    started = time.perf_counter()
    results: dict = {"machine": machine(), "date": datetime.date.today().isoformat(), "quick": quick}
    print("attention ...", flush=True)
    results["attention"] = attention.measure(
        (64, 128, 256) if quick else (128, 256, 512, 1024, 2048, 4096), repeats=2 if quick else 5
    )
    print("generation ...", flush=True)
    results["generation"] = generate.measure(new_tokens=16 if quick else 256, repeats=1 if quick else 5)
    print("sliding-window perplexity ...", flush=True)
    results["perplexity"] = perplexity.measure(tokens=1024 if quick else 16384, repeats=1 if quick else 3)
    print("grading ...", flush=True)
    import grade

    results["grading"] = grade.compare_with_nbgrader(submissions=4 if quick else 100, nbgrader_sample=1 if quick else 3)
    print("grading on a Dask cluster, 1 worker vs 2 ...", flush=True)
    results["scaling"] = grade.compare_workers(submissions=4 if quick else 60)
    print("grading with the OS sandbox vs --no-isolation ...", flush=True)
    results["isolation"] = grade.compare_isolation(submissions=4 if quick else 60)
    if with_book:
        print("book, cold and warm ...", flush=True)
        scratch = Path(tempfile.mkdtemp(prefix="bench-book-"))
        try:
            results["book"] = build_book(scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    results["total_s"] = time.perf_counter() - started
    return results


def table(results: dict) -> list[tuple[str, str, str, str]]:
    """Rows of (benchmark, course's figure, peer and its figure, ratio course/peer)."""
    rows = []
    for setting, ours, hf in results["generation"]["rows"]:
        rows.append(
            (
                f"generation, {setting} (tokens/s, best run, higher is better)",
                f"{ours:,.0f}",
                f"Hugging Face generate: {hf:,.0f}",
                f"{ours / hf:.2f}x",
            )
        )
    g = results["generation"]
    rows.append(
        (
            "generation, batch 1: KV cache vs none (tokens/s)",
            f"{g['cached']:,.0f}",
            f"course generate without cache: {g['uncached']:,.0f}",
            f"{g['cached'] / g['uncached']:.2f}x",
        )
    )
    gr = results["grading"]
    rows.append(
        (
            "grading (submissions/min, higher is better)",
            f"{gr['ours_rate']:.1f}",
            f"nbgrader autograde: {gr['nbgrader_rate']:.1f}",
            f"{gr['ours_rate'] / gr['nbgrader_rate']:.1f}x",
        )
    )
    if "similarity_seconds" in gr:
        rows.append(
            (
                f"similar answers, {gr['submissions']} submissions (s, part of grading them)",
                f"{gr['similarity_seconds']:.1f}",
                f"grading them: {gr['ours_seconds']:.1f}",
                f"{gr['similarity_seconds'] / gr['ours_seconds']:.2f}x",
            )
        )
    sc = results.get("scaling")
    if sc:
        rows.append(
            (
                "grading on a Dask cluster: 2 workers of one core (submissions/min)",
                f"{sc['two_rate']:.1f}",
                f"1 worker of one core: {sc['one_rate']:.1f}",
                f"{sc['two_rate'] / sc['one_rate']:.2f}x",
            )
        )
    iso = results.get("isolation")
    if iso:
        steps = ", ".join(f"{step} {ms:.1f}" for step, ms in iso["step_ms"].items())
        rows.append(
            (
                f"grading with the OS sandbox (submissions/min; ms per exercise: {steps})",
                f"{iso['on_rate']:.1f}",
                f"--no-isolation: {iso['off_rate']:.1f}",
                f"{iso['on_rate'] / iso['off_rate']:.2f}x",
            )
        )
    for r in results["attention"]:
        rows.append(
            (
                f"attention, T = {r['T']} (ms, lower is better)",
                f"{1e3 * r['teaching_s']:.2f}",
                f"F.scaled_dot_product_attention: {1e3 * r['fused_s']:.2f}",
                f"{r['teaching_s'] / r['fused_s']:.2f}x",
            )
        )
    p = results["perplexity"]
    rows.append(
        (
            f"sliding-window perplexity, {p['tokens']:,} tokens (s)",
            f"{p['ours_s']:.2f} (ppl {p['ours_ppl']:.4f})",
            f"Hugging Face guide's loop: {p['hf_s']:.2f} (ppl {p['hf_ppl']:.4f})",
            f"{p['ours_s'] / p['hf_s']:.2f}x",
        )
    )
    book = results.get("book")
    if book:
        for chapter, seconds in book["chapters_s"].items():
            rows.append(
                (
                    f"chapter {chapter}, executed (s)",
                    f"{seconds:.0f}",
                    f"budget: {CHAPTER_BUDGET_S:.0f}",
                    f"{seconds / CHAPTER_BUDGET_S:.2f}x",
                )
            )
        rows.append(
            (
                "make book, warm: nothing changed (s)",
                f"{book['warm_s']:.0f}",
                f"make book, cold: {book['cold_s']:.0f}",
                f"{book['warm_s'] / book['cold_s']:.2f}x",
            )
        )
    return rows


def markdown_table(rows) -> str:
    lines = ["| benchmark | course | peer | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def write_page(results: dict, rows, root: Path = ROOT) -> None:
    """Write ``root/performance.md``, its figure and ``results.json`` under ``root/bench/results``."""
    folder = root / RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    fig = attention.figure(results["attention"], "the machine that ran make bench")
    fig.savefig(folder / "attention_by_length.png", dpi=110, metadata={"Software": None})
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    first, last = results["attention"][0], results["attention"][-1]
    growth = last["teaching_s"] / first["teaching_s"]
    length_ratio = last["T"] / first["T"]
    g = results["generation"]
    note = " (a quick run: small sizes, no book build)" if results["quick"] else ""
    (root / PAGE).write_text(
        f"""# Performance

<!-- Written by `make bench` (bench/report.py); do not edit by hand: run it again. -->

Every figure on this page was measured by `make bench` on {results["date"]}{note}, on this
machine: {results["machine"]}. Each benchmark runs against the peer it names in the same run,
so the **ratios** are what to compare across machines; the raw figures depend on the hardware
and on what else the machine was doing. `make bench` took {results["total_s"] / 60:.1f} minutes.

## Summary

{markdown_table(rows)}

## Attention grows with the square of the length

```{{figure}} {RESULTS}/attention_by_length.png
:alt: Log-log plot of milliseconds per causal attention call against sequence length T from {first["T"]} to {last["T"]}, measured on the machine that ran make bench: the course's teaching path and PyTorch's fused kernel both rise roughly parallel to a dotted T-squared guide line, the teaching path above the fused kernel.
:width: 560px

Milliseconds per causal attention call (4 heads of 64 dimensions, float32), measured on the
machine that ran `make bench`. From T = {first["T"]} to T = {last["T"]} the length grows
{length_ratio:.0f}x and the teaching path's time {growth:.0f}x (T² would be {length_ratio**2:.0f}x).
```

The teaching path of chapter 02 builds the `(T, T)` matrix of weights ({last["weights_mib"]:.0f} MiB
at T = {last["T"]}) and returns it; the fused kernel never stores it. Both do the same
arithmetic, so both grow as T²; the ratio is the price of materialising the weights.

## Generation

course-gpt ({g["parameters"]:,} parameters), greedy, {g["new_tokens"]} new tokens after a
{g["prompt_tokens"]}-token prompt, {g["device"]}, {g["threads"]} threads: the course's
`generate` with its KV cache against Hugging Face's `generate` on the same weights (the two
produce identical tokens, checked before timing), and against itself without the cache.

## Grading

{results["grading"]["submissions"]} synthetic submissions of chapter 02 (correct, buggy,
unanswered, hostile) graded by the course's engine, and {results["grading"]["sample"]} of them by
plain sequential `nbgrader autograde`, which runs every notebook whole in a fresh kernel.
"""  # noqa: E501 - Markdown: a figure's alt text and a table's rows are one line each
        + (
            f"""
The same engine on a local Dask cluster (`make grade ARGS="--scheduler local:N"`, the path that
spreads grading over many machines): {results["scaling"]["submissions"]} correct, buggy and
unanswered chapter-02 submissions graded by one worker process of one thread, then by two,
each started and warmed before the clock starts.
"""
            if results.get("scaling")
            else ""
        )
        + f"""
## Sliding-window perplexity

Windows of {results["perplexity"]["max_length"]} tokens every {results["perplexity"]["stride"]} over the
validation text. The guide's loop weights each window's loss by one token too few after the first
window, hence the small difference in the perplexities (chapter 04 explains it).
"""
        + (
            """
## The book

Each chapter's execution time is that of the student edition as `make book` runs it (demos and
figures; exercise stubs raise and are skipped). A cold build starts from an empty output
folder and executes every chapter; a warm build with nothing changed reuses everything.
"""
            if results.get("book")
            else ""
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and no book build: a smoke test")
    parser.add_argument("--no-book", action="store_true", help="skip the cold and warm book builds")
    parser.add_argument(
        "--rewrite", action="store_true", help="measure nothing: write the page again from bench/results/results.json"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT,
        help="where to write performance.md and bench/results/ (default: the repository)",
    )
    args = parser.parse_args()
    if args.rewrite:
        results = json.loads((ROOT / RESULTS / "results.json").read_text())
    else:
        results = run(args.quick, with_book=not (args.quick or args.no_book))
    rows = table(results)
    print()
    print(f"machine: {results['machine']}")
    print(markdown_table(rows))
    write_page(results, rows, args.out)
    print(f"\nwrote {args.out / PAGE} and {args.out / RESULTS}/")


if __name__ == "__main__":
    main()
