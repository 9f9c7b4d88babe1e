"""Hostile and broken submissions of chapter 02, each with its exact expected score and note.

Each fixture edits the solution notebook (or the untouched student edition) the way a student
could. ``tests/test_hostile.py`` grades them all in one batch through ``course.grade``, the
path ``make grade`` takes. Points: positional encoding 2, attention 4, multi-head attention 4.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from llmcourse.grading import ch02

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "02_transformer_anatomy"

NO_SCALING = """def scaled_dot_product_attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""
GOOD_ATTENTION = """def scaled_dot_product_attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
"""


# The fixtures edit the positional-encoding and attention answers; the chapter's other exercises
# (the BPE ones) keep the solution's answers, so they add their full points to a submission that
# starts from the solution.
FIXTURE_EXERCISES = {"positional_encoding", "attention", "multi_head_attention"}
OTHER_POINTS = sum(e.points for key, e in ch02.EXERCISES.items() if key not in FIXTURE_EXERCISES)


@dataclass
class Hostile:
    student: str
    edit: Callable[[nbformat.NotebookNode], object]  # edits the notebook, or returns raw text
    score: float | None  # on the fixture exercises (10 points); None: the submission cannot be graded
    note: str  # must appear in the row's notes (grades.csv)
    start: str = "solution"  # or "untouched": the student edition as released

    @property
    def expected(self) -> float | None:
        """The submission's whole score: the fixture exercises' points, and the other exercises'
        full points when it starts from the solution."""
        if self.score is None:
            return None
        return self.score + (OTHER_POINTS if self.start == "solution" else 0.0)


def cell(nb, gid: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def set_cell(gid: str, source: str):
    def edit(nb):
        cell(nb, gid).source = source

    return edit


def tests_removed(nb):
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]


def tests_edited(nb):
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade"):
            c.source = "print('all tests passed')"


def metadata_stripped(nb):
    for c in nb.cells:
        c.metadata.pop("nbgrader", None)
        c.metadata.pop("tags", None)


def cell_duplicated(nb):
    original = cell(nb, "attention")
    copy = nbformat.from_dict(json.loads(json.dumps(original)))
    copy["id"] = "a-copy"
    copy.source = "def scaled_dot_product_attention(q, k, v, mask=None):\n    return None"
    nb.cells.insert(nb.cells.index(original) + 1, copy)


def colab_saved(nb):
    nb.metadata["colab"] = {"provenance": [], "name": f"{CHAPTER}.ipynb"}
    nb.metadata["accelerator"] = "GPU"
    nb["nbformat_minor"] = 0
    for i, c in enumerate(nb.cells):
        c.pop("id", None)
        c.metadata["id"] = f"colab{i}"
        if c.cell_type == "code":
            c.execution_count = i
            c.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran in Colab\n")]


def demo_helper(nb):
    cell(
        nb, "positional_encoding"
    ).source = (
        "def sinusoidal_positional_encoding(num_positions, d_model):\n    return pe_helper(num_positions, d_model)\n"
    )
    demo = nbformat.v4.new_code_cell(
        "def pe_helper(P, D):\n    import math\n    pe = torch.zeros(P, D)\n    for p in range(P):\n"
        "        for i in range(D):\n"
        "            a = p / 10000 ** ((i - i % 2) / D)\n"
        "            pe[p, i] = math.sin(a) if i % 2 == 0 else math.cos(a)\n    return pe\n"
    )
    nb.cells.insert(nb.cells.index(cell(nb, "positional_encoding")) + 2, demo)


def setup_alias(nb):
    setup = [c for c in nb.cells if "setup" in c.metadata.get("tags", [])][-1]
    setup.source += "\nfrom llmcourse.attention import scaled_dot_product_attention as helper_attention\n"
    cell(
        nb, "attention"
    ).source = "def scaled_dot_product_attention(q, k, v, mask=None):\n    return helper_attention(q, k, v, mask)\n"


def mha_forward(body: str) -> str:
    """The solution's multi-head attention with ``body`` run first in forward."""
    return f"""class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query, key, value, mask=None):
        {body}
        B, Tq, E = query.shape
        split = lambda x: x.view(B, -1, self.num_heads, self.head_dim).transpose(1, 2)
        heads, w = scaled_dot_product_attention(
            split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value)), mask
        )
        return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w
"""


def answered_only_pe(nb):
    """The student edition with only exercise 1 answered."""
    solution = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)
    cell(nb, "positional_encoding").source = cell(solution, "positional_encoding").source


def transformer_and_one_answer(nb):
    answered_only_pe(nb)
    cell(nb, "positional_encoding").source += "\nget_ipython().input_transformers_cleanup.append(lambda lines: [])\n"


def floods_output(nb):
    solution = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)
    cell(nb, "positional_encoding").source = cell(solution, "positional_encoding").source + "\nprint('x' * 5_000_000)\n"


HOSTILE = [
    # cheats that used to score full marks: a wrong answer stays wrong, a forbidden one scores 0
    Hostile(
        "patches_check",
        set_cell(
            "attention",
            NO_SCALING
            + "import llmcourse.grading.ch02 as g\ng.check_attention = lambda *a, **k: None\ng.EXERCISES.clear()\n",
        ),
        6.5,
        "without the 1/sqrt(d) scaling",
    ),
    Hostile(
        "patches_grading_module",
        set_cell(
            "attention",
            NO_SCALING + "import llmcourse.grading.contract as c\n"
            "c.expect_tensor = lambda *a, **k: None\n"
            "c.judge = lambda *a, **k: None\n",
        ),
        6.5,
        "scaled_dot_product_attention 0.5/4 failed",
    ),
    Hostile(
        "rebinds_grade",
        set_cell(
            "attention", NO_SCALING + "grade = type('G', (), {'check_attention': staticmethod(lambda *a, **k: None)})\n"
        ),
        6.5,
        "scaled_dot_product_attention 0.5/4 failed",
    ),
    Hostile(
        "patches_tensor_methods",
        set_cell(
            "attention",
            NO_SCALING + "torch.Tensor.any = lambda self, *a, **k: torch.tensor(False)\n"
            "torch.Tensor.all = lambda self, *a, **k: torch.tensor(True)\n"
            "torch.allclose = lambda *a, **k: True\n",
        ),
        6.5,
        "scaled_dot_product_attention 0.5/4 failed",
    ),
    Hostile(
        "tensor_subclass",
        set_cell(
            "attention",
            "class Zero(torch.Tensor):\n    @classmethod\n"
            "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
            "        if func is torch.Tensor.sub or func is torch.Tensor.__sub__:\n"
            "            return torch.zeros(())\n"
            "        return super().__torch_function__(func, types, args, kwargs or {})\n\n"
            + NO_SCALING.replace("return w @ v, w", "return (w @ v).as_subclass(Zero), w.as_subclass(Zero)"),
        ),
        6,
        "expected a plain torch.Tensor",
    ),
    Hostile("input_transformer", transformer_and_one_answer, 0, "IPython input transformers", start="untouched"),
    Hostile(
        "hides_tracebacks",
        set_cell("attention", GOOD_ATTENTION + "get_ipython().showtraceback = lambda *a, **k: None\n"),
        6,
        "forbidden",
    ),
    Hostile(
        "aten_route",
        set_cell(
            "attention",
            "def scaled_dot_product_attention(q, k, v, mask=None):\n"
            "    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1)\n"
            "    return torch.ops.aten.scaled_dot_product_attention(q, k, v), w\n",
        ),
        6,
        "torch.ops",
    ),
    Hostile(
        "aten_obfuscated",
        set_cell(
            "attention",
            "def scaled_dot_product_attention(q, k, v, mask=None):\n"
            "    kernel = getattr(getattr(torch, 'o' + 'ps').aten, 'scaled_dot_' + 'product_attention')\n"
            "    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1)\n"
            "    return kernel(q, k, v), w\n",
        ),
        6,
        "aten::_scaled_dot_product",
    ),
    Hostile(
        "disables_torch_function",
        set_cell(
            "attention",
            "def scaled_dot_product_attention(q, k, v, mask=None):\n    with torch._C.DisableTorchFunction():\n"
            "        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)\n"
            "    return out, torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1)\n",
        ),
        6,
        "DisableTorchFunction",
    ),
    Hostile(
        "removes_profiler",
        set_cell(
            "attention",
            "import sys\ndef scaled_dot_product_attention(q, k, v, mask=None):\n    sys.setprofile(None)\n"
            "    return ref.scaled_dot_product_attention(q, k, v, mask)\n",
        ),
        6,
        "setprofile",
    ),
    Hostile(
        "reference_obfuscated",
        set_cell(
            "attention",
            "def scaled_dot_product_attention(q, k, v, mask=None):\n"
            "    fn = getattr(ref, 'scaled_dot_' + 'product_attention')\n    return fn(q, k, v, mask)\n",
        ),
        6,
        "llmcourse.attention.scaled_dot_product_attention",
    ),
    # the reference is not there while grading (the stand-in says so), so no call of it can run
    Hostile(
        "reference_alias_in_setup",
        setup_alias,
        6,
        "llmcourse.attention.scaled_dot_product_attention is not available while grading",
    ),
    Hostile("thread", set_cell("attention", "import threading\n" + GOOD_ATTENTION), 6, "threads"),
    # crashes and limits cost only their own exercise
    Hostile(
        "sys_exit", set_cell("multi_head_attention", mha_forward("import sys; sys.exit(3)")), 7, "raised SystemExit"
    ),  # its layers sub-check passes
    Hostile(
        "os_exit", set_cell("multi_head_attention", mha_forward("import os; os._exit(7)")), 6, "exited with code 7"
    ),
    Hostile(
        "memory_bomb",
        set_cell(
            "positional_encoding",
            "def sinusoidal_positional_encoding(num_positions, d_model):\n    hoard = []\n    while True:\n"
            "        hoard.append(bytearray(64 << 20))\n",
        ),
        8,
        "MemoryError",
    ),
    Hostile(
        "infinite_loop",
        set_cell("attention", "def scaled_dot_product_attention(q, k, v, mask=None):\n    while True:\n        pass\n"),
        6,
        "timed out after",
    ),
    Hostile(
        "loops_at_top_level", set_cell("attention", GOOD_ATTENTION + "while True:\n    pass\n"), 6, "timed out after"
    ),
    Hostile(
        "syntax_error",
        set_cell("attention", "def scaled_dot_product_attention(q, k, v, mask=None)\n    return q\n"),
        6,
        "SyntaxError",
    ),
    Hostile("demo_helper", demo_helper, 8, "does not run while grading"),
    # honest work never loses points
    Hostile(
        "warns_and_prints",
        set_cell(
            "attention",
            "import warnings, sys\n"
            + GOOD_ATTENTION.replace(
                "    s = q", "    warnings.warn('careful with NaN')\n    print('debug', file=sys.stderr)\n    s = q"
            ),
        ),
        10,
        "attention_tests=4/4",
    ),
    Hostile("floods_output", floods_output, 10, "output trimmed"),
    Hostile("deleted_tests", tests_removed, 10, "test cells deleted or edited"),
    Hostile("edited_tests", tests_edited, 10, "test cells deleted or edited"),
    Hostile("stripped_metadata", metadata_stripped, 10, "metadata of cells"),
    Hostile("duplicated_cell", cell_duplicated, 10, "appears more than once"),
    Hostile("colab_saved", colab_saved, 10, "multi_head_attention_tests=4/4"),
    Hostile("answers_one_exercise", answered_only_pe, 2, "positional_encoding_tests=2/2", start="untouched"),
    Hostile("invalid_json", lambda nb: '{"cells": [ this is not json', None, "not a readable notebook"),
]


def write_submissions(root: Path) -> dict[str, Path]:
    """Write every fixture to ``root/submitted/<student>/<chapter>/``; return their paths."""
    paths = {}
    for h in HOSTILE:
        nb = nbformat.read(
            ROOT / ("solutions" if h.start == "solution" else "chapters") / f"{CHAPTER}.ipynb", as_version=4
        )
        edited = h.edit(nb)
        folder = root / "submitted" / h.student / CHAPTER
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{CHAPTER}.ipynb"
        if isinstance(edited, str):
            path.write_text(edited)
        else:
            nbformat.write(nb, path)
        paths[h.student] = path
    return paths
