"""`make bench`'s report: a quick run writes the table, the figure and the page."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_report_writes_the_page(tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "report.py"), "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "| benchmark | course | peer | ratio |" in run.stdout
    for peer in (
        "Hugging Face generate",
        "nbgrader autograde",
        "F.scaled_dot_product_attention",
        "Hugging Face guide's loop",
        "1 worker of one core",
    ):
        assert peer in run.stdout, peer
    page = (tmp_path / "performance.md").read_text()
    assert "measured by `make bench`" in page and "cores" in page
    assert "{results" not in page, "a placeholder of the page was not filled in"
    assert (tmp_path / "bench" / "results" / "attention_by_length.png").stat().st_size > 10_000
    results = json.loads((tmp_path / "bench" / "results" / "results.json").read_text())
    assert [r["T"] for r in results["attention"]] == sorted(r["T"] for r in results["attention"])
    # the sliding-window perplexities agree to within the guide's one-token weighting
    assert abs(results["perplexity"]["ours_ppl"] - results["perplexity"]["hf_ppl"]) < 0.01


def test_the_book_has_the_committed_report():
    page = (ROOT / "performance.md").read_text()
    assert "Written by `make bench`" in page
    assert "{results" not in page, "a placeholder of the page was not filled in: run bench/report.py --rewrite"
    assert (ROOT / "bench" / "results" / "attention_by_length.png").is_file()
    assert "performance" in (ROOT / "_toc.yml").read_text()
