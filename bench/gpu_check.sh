#!/usr/bin/env bash
# The developers' guide's GPU checks, as one script for a lent GPU machine (PyTorch, no Jupyter):
#   bash bench/gpu_check.sh        # with .gpuwheels/ carried: nbformat, IPython, rouge-score wheels
# Chapters on CUDA, generation speed on CUDA, a short training run with and without bfloat16
# autocast, the test suite's torch-only parts, and the grading engine on hostile submissions,
# all under that machine's own torch and transformers (a compatibility check too).
set -u
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg PYTHONPATH="$PWD:/tmp/site"
if [ -d .gpuwheels ]; then
  python3 -m pip install -q --no-index --find-links .gpuwheels --target /tmp/site nbformat ipython rouge-score >/dev/null 2>&1 || echo "wheel install failed"
fi
python3 -c "import torch, transformers; print('torch', torch.__version__, '| transformers', transformers.__version__, '|', torch.cuda.get_device_name())"
echo "== chapters, LLMCOURSE_DEVICE=cuda"
LLMCOURSE_DEVICE=cuda python3 bench/run_notebook.py solutions/*.ipynb 2>&1 | grep -v "^  "
echo "== generation on cuda"
python3 bench/generate.py --device cuda --repeats 3 --batch-sizes 1 8 64
echo "== training: 300 steps of 64 x 512 tokens, bfloat16 autocast vs float32"
for amp in --amp --no-amp; do
  python3 -m llmcourse.train --out-dir "/tmp/run$amp" --max-steps 300 --eval-every 300 --batch-size 64 $amp 2>/dev/null | tail -1
done
echo "== grading engine on hostile submissions (this machine's torch)"
python3 - <<'PY'
import sys, tempfile, time
from pathlib import Path
sys.path.insert(0, "tests")
import nbformat
from hostile_submissions import CHAPTER, HOSTILE, write_submissions
from llmcourse.grading.engine import Engine
root = Path(tempfile.mkdtemp())
paths = write_submissions(root)
engine = Engine({CHAPTER: nbformat.read(f"solutions/{CHAPTER}.ipynb", as_version=4)}, time_limit=6, memory_bytes=1 << 30)
start = time.perf_counter()
results = {r.student: r for r in engine.grade([(h.student, CHAPTER, paths[h.student]) for h in HOSTILE], progress=False)}
wrong = [(h.student, results[h.student].score, h.score) for h in HOSTILE if results[h.student].score != h.score]
print(f"{len(HOSTILE)} submissions in {time.perf_counter() - start:.1f} s; network {results['warns_and_prints'].network}; wrong scores: {wrong}")
PY
echo "== tests (torch and transformers parts)"
python3 -m pytest -q -p no:cacheprovider tests/test_attention.py tests/test_gpt.py tests/test_decoding.py tests/test_metrics.py tests/test_grading_contract.py tests/test_grading_ch0*.py -k "not kernel" 2>&1 | tail -4
