"""Every chapter's EXERCISES follow the contract the engine reads (llmcourse/grading/__init__.py)."""

import ast
import functools
import importlib
from pathlib import Path

import nbformat
import pytest

from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.contract import check, load_qualname, mistake_answer
from llmcourse.grading.guards import review_source, scan_source
from llmcourse.grading.judging import Outcome

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))
EXERCISES = [
    (c, key, importlib.import_module(f"llmcourse.grading.ch{c[:2]}").EXERCISES[key])
    for c in CHAPTERS
    for key in importlib.import_module(f"llmcourse.grading.ch{c[:2]}").EXERCISES
]
IDS = [f"{c[:2]}-{key}" for c, key, _ in EXERCISES]


def cells_by_id(chapter):
    nb = nbformat.read(ROOT / "solutions" / f"{chapter}.ipynb", as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}


@pytest.mark.parametrize("chapter, key, exercise", EXERCISES, ids=IDS)
def test_exercise_declaration(chapter, key, exercise):
    cells = cells_by_id(chapter)
    assert exercise.cell in cells and exercise.test_cell in cells, "the declared cells are in the notebook"
    assert cells[exercise.test_cell].metadata["nbgrader"]["points"] == exercise.points
    visible = {c.subcheck for c in exercise.cases(False)}
    assert visible == {s.id for s in exercise.subchecks}, "every stated requirement has a visible check"
    assert {c.subcheck for c in exercise.cases(True)} == visible, "hidden checks add no new requirement"
    assert all(c.visible for c in exercise.cases(False))
    assert len(exercise.mistakes) >= 5 and len(alternatives_of(chapter).get(key, ())) >= 2  # autograde/alternatives/
    for target in exercise.depends.values():
        load_qualname(target)


@pytest.mark.parametrize("chapter, key, exercise", EXERCISES, ids=IDS)
def test_test_cell_is_a_one_line_call_of_a_check(chapter, key, exercise):
    source = cells_by_id(chapter)[exercise.test_cell].source
    visible = [
        ln for ln in source.split("### BEGIN HIDDEN TESTS")[0].splitlines() if ln.strip() and not ln.startswith("#")
    ]
    assert len(visible) == 1, visible
    call = ast.parse(visible[0]).body[0].value
    assert isinstance(call, ast.Call) and call.func.attr.startswith("check_") and call.args[0].id == exercise.name


@functools.cache
def mistake_outcome(chapter: str, key: str, mistake_id: str, hidden: bool) -> Outcome:
    """A catalogued mistake judged in process as a test cell's check judges it, on the visible
    cases or on all of them: computed once for the three tests below that read it."""
    from llmcourse.grading.student import judge_answer

    exercise = importlib.import_module(f"llmcourse.grading.ch{chapter[:2]}").EXERCISES[key]
    mistake = next(m for m in exercise.mistakes if m.id == mistake_id)
    return judge_answer(exercise, mistake_answer(exercise, mistake), hidden)


def failed_requirements(outcome: Outcome) -> set[str]:
    """The sub-checks an outcome fails; {"forbidden"} for a forbidden call."""
    return {"forbidden"} if outcome.forbidden else set(outcome.failures)


@pytest.mark.parametrize("chapter, key, exercise", EXERCISES, ids=IDS)
def test_valid_alternatives_pass_and_mistakes_fail_in_process(chapter, key, exercise):
    stand_ins = {name: load_qualname(t) for name, t in exercise.depends.items()}
    for code in alternatives_of(chapter)[key]:
        namespace = dict(stand_ins)
        exec(code, namespace)
        check(exercise, namespace[exercise.name], hidden=True, quiet=True)
        assert not scan_source(code, exercise.forbidden.names), "an alternative must not use forbidden names"
    passing = [m.id for m in exercise.mistakes if not failed_requirements(mistake_outcome(chapter, key, m.id, True))]
    assert not passing, f"catalogued mistakes that pass every check: {passing}"


def test_scan_source_finds_forbidden_names_and_tampering_but_not_honest_code():
    assert scan_source("out = F.scaled_dot_product_attention(q, k, v)", ["scaled_dot_product_attention"])
    assert scan_source("from llmcourse.attention import causal_mask", ["llmcourse.attention"])
    for hostile in [
        "with torch._C.DisableTorchFunction(): pass",
        "torch.ops.aten.mm(a, b)",
        "exec('x = 1')",
        "import threading",
        "get_ipython().events.register('pre_run_cell', f)",
    ]:
        assert scan_source(hostile), hostile
    honest = (
        'def scaled_dot_product_attention(q, k, v, mask=None):\n    """My scaled_dot_product_attention."""\n'
        "    ops = 3\n    return model.eval()"
    )
    assert (
        scan_source(honest, ["scaled_dot_product_attention"]) == []
        and review_source(honest, ["scaled_dot_product_attention"]) == []
    )


def test_constructs_that_may_be_honest_are_for_review_not_forbidden():
    """Issue 15: they cost nothing (a forbidden call that runs is caught at run time)."""
    for code, found in [
        ("fn = getattr(F, 'scaled_dot_product_attention')", "in a string"),
        ("fn = getattr(F, name)", "computed name"),
        ("import sys\nsys.setprofile(None)", "setprofile"),
        ("setattr(self, 'q_proj', layer)", "setattr()"),
        ("import runpy", "runpy"),
        ("import pickle", "pickle"),
        ("c = f.__code__", "code objects"),
        ("import sys\nframe = sys._getframe()", "frames"),
        ("raise ValueError('scaled_dot_product_attention needs 3-d q')", "in a string"),
    ]:
        assert scan_source(code, ["scaled_dot_product_attention"]) == [], code
        assert any(found in line for line in review_source(code, ["scaled_dot_product_attention"])), code


def test_malformed_results_from_the_students_process_fail_without_crashing_the_judge():
    from llmcourse.grading import ch02
    from llmcourse.grading.contract import judge

    cases = ch02.ATTENTION.cases(False)
    junk = [
        {
            "tuple": [
                {"tensor": {"kind": "torch.Tensor", "dtype": "float32", "shape": [3, 3], "data": "@@not base64"}},
                5,
            ]
        },
        {"dict": "not a dict"},
        {"tensor": None},
        ["not", "plain"],
        17,
        None,
        {"error": 3},
        {"tuple": None},
    ]
    outcome = judge(ch02.ATTENTION, cases, (junk * 2)[: len(cases)])
    assert outcome.score == 0 and len(outcome.failures) == len(ch02.ATTENTION.subchecks)


def test_a_job_with_many_tensors_starts(tmp_path):
    """Case inputs travel as plain pickle bytes: hundreds of tensors need no file descriptors."""
    import torch

    from llmcourse.grading import engine, loading, sandbox

    answer = [
        sandbox.Cell(
            "answer", "import torch\ndef sinusoidal_positional_encoding(P, D):\n    return torch.zeros(P, D)", True
        )
    ]
    many = [(3, 4, [torch.randn(3) for _ in range(600)])]  # extra items ride along, as big case inputs would
    runner = loading.runner_of("02_transformer_anatomy", "llmcourse.grading.ch02", "positional_encoding")
    jobs = [
        sandbox.Job(runner, "sinusoidal_positional_encoding", answer, inputs, str(tmp_path / f"{i}.log"))
        for i, inputs in enumerate([[(3, 4)], [case[:2] for case in many] + [many[0][:2]]])
    ]
    jobs[1].inputs.append(many[0])
    outcomes = engine.run_jobs(jobs, workers=2, time_limit=60)
    assert all(any(m.get("type") == "result" for m in o.messages) for o in outcomes), [o.messages for o in outcomes]


def test_intake_notes_only_missing_graded_answers():
    """Optional, ungraded answer cells (chapter 02's modern pieces) may be deleted silently;
    a deleted graded answer is noted."""
    from llmcourse.grading import intake
    from llmcourse.grading.loading import exercises_of

    root = Path(__file__).resolve().parents[1]
    source = nbformat.read(root / "solutions" / "02_transformer_anatomy.ipynb", as_version=4)
    graded = {e.cell for e in exercises_of("02_transformer_anatomy").values()}
    optional = [
        c.metadata["nbgrader"]["grade_id"]
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.metadata["nbgrader"]["grade_id"] not in graded
    ]
    assert optional, "chapter 02 has optional answer cells"

    def without(grade_ids):
        nb = nbformat.read(root / "solutions" / "02_transformer_anatomy.ipynb", as_version=4)
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in grade_ids]
        return intake.intake(nb, source, graded=graded)

    assert not any("not found" in n for n in without(set(optional)).notes)
    notes = without({"attention"}).notes
    assert any(n == "solution cells not found: attention" for n in notes), notes


def test_a_test_cell_is_compared_by_what_it_runs_not_by_its_comments():
    """Issue 22: a comment fixed in a test cell mid-term (or the student's spacing) is not an
    edit; changing the call is."""
    from llmcourse.grading import intake

    root = Path(__file__).resolve().parents[1]
    source = nbformat.read(root / "solutions" / "02_transformer_anatomy.ipynb", as_version=4)

    def notes_after(edit):
        nb = nbformat.read(root / "solutions" / "02_transformer_anatomy.ipynb", as_version=4)
        test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "attention_tests")
        test.source = edit(test.source)
        return [n for n in intake.intake(nb, source).notes if "test cells" in n]

    assert notes_after(lambda s: "# checks the attention (comment fixed mid-term)\n\n" + s.replace("(", "( ", 1)) == []
    assert notes_after(lambda s: s.replace("check_attention", "check_positional_encoding", 1)), (
        "a changed call is an edit"
    )


@pytest.mark.parametrize("chapter, key, exercise", EXERCISES, ids=IDS)
def test_every_catalogued_mistake_is_named_by_the_visible_checks(chapter, key, exercise):
    """Issue 16: the student's visible test cell fails on each catalogued mistake and says which
    it likely is (several matching the failing case: the one agreeing with the answer on most cases)."""
    unnamed = []
    for mistake in exercise.mistakes:
        outcome = mistake_outcome(chapter, key, mistake.id, False)
        assert failed_requirements(outcome), f"{mistake.id} passes every visible check"
        if not any(f"Likely mistake: {mistake.message}" in text for text in outcome.failures.values()):
            unnamed.append(f"{mistake.id}: {str(outcome.failures)[:300]}")
    assert not unnamed, unnamed


@pytest.mark.parametrize("chapter, key, exercise", EXERCISES, ids=IDS)
def test_the_hidden_cases_charge_a_mistake_only_to_requirements_it_visibly_breaks(chapter, key, exercise):
    """Issue 16, item 3: each failure is charged to the requirement whose text it breaks, and the
    visible checks show which that is; the hidden cases add sizes, seeds and dtypes to the same
    requirements, so a mistake fails no requirement with all cases that it passes visibly."""
    unfair = {}
    for mistake in exercise.mistakes:
        hidden, visible = (mistake_outcome(chapter, key, mistake.id, h) for h in (True, False))
        extra = failed_requirements(hidden) - failed_requirements(visible)
        if extra:
            unfair[mistake.id] = sorted(extra)
    assert not unfair, f"failing only with the hidden cases: {unfair}"
