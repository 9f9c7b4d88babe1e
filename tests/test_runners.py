"""The student-side runners (llmcourse.grading.runners) stand apart from the checks: importing
them loads no checks module and no oracle, and every exercise runs its chapter's runner."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [f"{n:02d}" for n in range(1, 9)]
# What the student's process must never load: the checks (expected values, mistake catalogues) and the oracles.
FORBIDDEN_MODULES = [f"llmcourse.grading.ch{c}" for c in CHAPTERS] + ["sacrebleu", "rouge_score", "sklearn", "peft"]


def test_runners_import_no_checks_module_and_no_oracle():
    script = (
        "import importlib, sys\n"
        f"for c in {CHAPTERS!r}:\n"
        "    importlib.import_module(f'llmcourse.grading.runners.ch{c}')\n"
        f"forbidden = {FORBIDDEN_MODULES!r}\n"
        "print(sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in forbidden)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", f"the runners loaded {done.stdout.strip().splitlines()[-1]}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_exercise_runs_its_chapters_runner(chapter):
    exercises = importlib.import_module(f"llmcourse.grading.ch{chapter}").EXERCISES
    runners = importlib.import_module(f"llmcourse.grading.runners.ch{chapter}").RUNNERS
    assert set(runners) == set(exercises), "one runner per exercise key, and no other"
    for key, exercise in exercises.items():
        assert exercise.run is runners[key], key
