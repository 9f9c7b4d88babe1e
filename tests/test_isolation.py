"""Issue 15: nothing a student controls reaches the grader, the instructor's files or other
students. A hostile batch of chapter 02 is graded through ``course.grade`` (the path of
``make grade``) with a key planted in the grader's environment and a ``.env`` in the course
folder; each fixture gets its exact points, and nothing outside the grader's own outputs changes.

Points of chapter 02: train_bpe 4, encode 3, decode 2, positional encoding 2, attention 4,
multi-head attention 4 (19; ``FULL``, from the chapter's EXERCISES). The fixtures edit the
attention-side cells only; every other exercise keeps the solution's full points.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_submissions import CHAPTER, cell  # noqa: E402
from llmcourse.grading import ch02, engine, isolation, redaction, results  # noqa: E402
from llmcourse.grading import cli as course  # noqa: E402

PLANTED_KEY = "sk-planted-0123456789abcdef"
DOTENV_SECRET = "dotenv-secret-9876543210"
TOKEN = "llmcourse-isolation-marker"  # in the command line of a process that must not survive
SOLUTION = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)
PE = cell(SOLUTION, "positional_encoding").source
ATTENTION = cell(SOLUTION, "attention").source
MHA = cell(SOLUTION, "multi_head_attention").source
FULL = sum(e.points for e in ch02.EXERCISES.values())  # chapter 02's full marks


@dataclass
class Fixture:
    student: str
    cells: dict[str, str]  # grade_id -> source, in place of the solution's
    points: dict[str, float]  # test cell -> expected points (the others: full marks)
    review: str = ""  # must appear in the submission's "needs review" lines


def attempt(code: str) -> str:
    """``code`` run at the top of the positional-encoding cell, its failure printed, not raised."""
    return (
        f"import os\ntry:\n    print('attempt:', {code})\nexcept Exception as exc:\n"
        "    print('blocked:', type(exc).__name__)\n\n" + PE
    )


def fixtures(root: Path, home: Path) -> list[Fixture]:
    course_env, checks = root / ".env", ROOT / "llmcourse" / "grading" / "ch02" / "__init__.py"
    venv = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    other = root / "submitted" / "honest_magic" / CHAPTER / f"{CHAPTER}.ipynb"
    full = {"positional_encoding_tests": 2}
    return [
        # secrets: none is visible, so none can reach a file
        Fixture("reads_env_key", {"positional_encoding": attempt("os.environ.get('OPENAI_API_KEY')")}, full),
        Fixture("reads_dotenv", {"positional_encoding": attempt(f"open({str(course_env)!r}).read()")}, full),
        Fixture("reads_repo_dotenv", {"positional_encoding": attempt(f"open({str(ROOT / '.env')!r}).read()")}, full),
        Fixture(
            "reads_grader_environ",
            {"positional_encoding": attempt("open(f'/proc/{os.getppid()}/environ').read()")},
            full,
        ),
        # files: the course, the virtual environment, the results, the home, other students
        Fixture(
            "writes_checks",
            {"positional_encoding": attempt(f"open({str(checks)!r}, 'a').write('EXERCISES = {{}}')")},
            full,
        ),
        Fixture(
            "writes_pth",
            {"positional_encoding": attempt(f"open({str(venv / 'zz_hostile.pth')!r}, 'w').write('import os')")},
            full,
        ),
        Fixture(
            "writes_release",
            {
                "positional_encoding": attempt(
                    f"open({str(root / '.release-checks' / CHAPTER / 'aaaaaaaaaaaa.py')!r}, 'w').write('x')"
                )
            },
            full,
        ),
        Fixture(
            "writes_results",
            {"positional_encoding": attempt(f"open({str(root / 'results' / 'x.json')!r}, 'w').write('x')")},
            full,
        ),
        Fixture(
            "writes_home",
            {"positional_encoding": attempt(f"open({str(home / 'planted.txt')!r}, 'w').write('x')")},
            full,
        ),
        Fixture("copies_other_student", {"positional_encoding": attempt(f"open({str(other)!r}).read()[:10]")}, full),
        Fixture(
            "overwrites_other_student", {"positional_encoding": attempt(f"open({str(other)!r}, 'w').write('x')")}, full
        ),
        # processes: a new session, 20 s later, must find nothing left to run it
        Fixture(
            "setsid_child",
            {"positional_encoding": attempt(f"os.system('setsid sh -c \"sleep 20; echo {TOKEN} > {home}/late\" &')")},
            full,
        ),
        # oracles: the checks are a stand-in while grading
        Fixture(
            "calls_oracle",
            {
                "positional_encoding": "from llmcourse.grading.ch02.positional_encoding import _pe_expected\n\n"
                "def sinusoidal_positional_encoding(num_positions, d_model):\n"
                "    return _pe_expected(num_positions, d_model)\n"
            },
            {"positional_encoding_tests": 0},
        ),
        Fixture(
            "oracle_by_setup_name",
            {
                "positional_encoding": "def sinusoidal_positional_encoding(num_positions, d_model):\n"
                "    return grade.POSITIONAL_ENCODING.cases(True)[0].expected\n"
            },
            {"positional_encoding_tests": 0},
        ),
        # second copies of forbidden code: the reference's file cannot be read; torch's copy is caught running
        Fixture(
            "reference_from_file",
            {
                "attention": "import importlib.util\nspec = importlib.util.spec_from_file_location('copy', "
                f"{str(ROOT / 'llmcourse' / 'attention.py')!r})\ncopy = importlib.util.module_from_spec(spec)\n"
                "spec.loader.exec_module(copy)\nscaled_dot_product_attention = copy.scaled_dot_product_attention\n"
            },
            {"attention_tests": 0},
            review="importlib",
        ),
        # forbidden code is caught when it runs, whoever calls it: an original kept by a cell, a reloaded module
        Fixture(
            "keeps_original",
            {
                "multi_head_attention": "Torch = getattr(nn, 'Multihead' + 'Attention')\n\n"
                "class MultiHeadAttention(nn.Module):\n    def __init__(self, embed_dim, num_heads, bias=True):\n"
                "        super().__init__()\n"
                "        self.inner = Torch(embed_dim, num_heads, bias=bias, batch_first=True)\n\n"
                "    def forward(self, query, key, value, mask=None):\n"
                "        return self.inner(query, key, value, attn_mask=None if mask is None else ~mask)\n"
            },
            {"multi_head_attention_tests": 0},
            review="getattr() with a computed name",
        ),
        Fixture(
            "reloads_module",
            {
                "multi_head_attention": "import importlib\n"
                "copy = importlib.reload(getattr(nn.modules, 'activ' + 'ation'))\n" + MHA
            },
            {"multi_head_attention_tests": 0},
            review="importlib",
        ),
        # honest students lose nothing
        Fixture(
            "honest_magic", {"positional_encoding": "%%time\n" + PE, "attention": "%time x = 1\n" + ATTENTION}, full
        ),
        Fixture(
            "honest_setattr",
            {
                "multi_head_attention": MHA.replace(
                    "self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)",
                    "setattr(self, 'q_proj', nn.Linear(embed_dim, embed_dim, bias=bias))",
                )
            },
            {"multi_head_attention_tests": 4},
            review="setattr()",
        ),
        Fixture(
            "honest_message",
            {
                "positional_encoding": PE.replace(
                    "    ### BEGIN SOLUTION\n",
                    "    assert d_model > 0, 'sinusoidal_positional_encoding needs d_model > 0'\n",
                    1,
                )
            },
            full,
            review="in a string",
        ),
    ]


def _snapshot(*folders: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int, str]]:
    """(size, mtime, sha256 of small files) of every file beneath ``folders``."""
    found = {}
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if d not in skip]
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    st = path.lstat()
                except OSError:
                    continue
                digest = (
                    hashlib.sha256(path.read_bytes()).hexdigest() if st.st_size < 1 << 20 and path.is_file() else ""
                )
                found[str(path)] = (st.st_size, st.st_mtime_ns, digest)
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if any(v != "yes" for v in isolation.probe().values()):
        pytest.fail(f"this machine cannot isolate students' code: {isolation.probe()}")
    root, home = tmp_path_factory.mktemp("course"), tmp_path_factory.mktemp("home")
    (home / "notes.txt").write_text("the instructor's own file")
    (root / "nbgrader_config.py").write_text((course.COURSE / "nbgrader_config.py").read_text())
    (root / ".env").write_text(f"OPENAI_API_KEY={DOTENV_SECRET}\n")
    the_fixtures = fixtures(root, home)
    for f in the_fixtures:
        nb = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)
        for gid, source in f.cells.items():
            cell(nb, gid).source = source
        folder = root / "submitted" / f.student / CHAPTER
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{CHAPTER}.ipynb")
    venv = Path(sys.prefix)
    before = _snapshot(ROOT, skip=(".git", ".venv", "_build", "__pycache__", ".pytest_cache", "node_modules"))
    before_venv, before_home = _snapshot(venv, skip=("__pycache__",)), _snapshot(home)
    before_submitted = _snapshot(root / "submitted")
    saved = {k: os.environ.get(k) for k in ("OPENAI_API_KEY", "HOME", "MPLCONFIGDIR")}
    # the grader's own caches (matplotlib's fonts for the class report) are not the home's files
    os.environ.update(OPENAI_API_KEY=PLANTED_KEY, HOME=str(home), MPLCONFIGDIR=str(tmp_path_factory.mktemp("mpl")))
    cwd = os.getcwd()
    os.chdir(root)  # the course folder's .env is read from where the grader runs
    try:
        start = time.perf_counter()
        results = course.grade(root, chapters=[CHAPTER], time_limit=20.0, memory_gib=1.0, progress=False)
        seconds = time.perf_counter() - start
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    survivors = [p for p in Path("/proc").glob("[0-9]*") if TOKEN.encode() in _cmdline(p)]
    changes = {
        "course folder": _changed(
            before, _snapshot(ROOT, skip=(".git", ".venv", "_build", "__pycache__", ".pytest_cache", "node_modules"))
        ),
        "virtual environment": _changed(before_venv, _snapshot(venv, skip=("__pycache__",))),
        "home": _changed(before_home, _snapshot(home)),
        "submissions": _changed(before_submitted, _snapshot(root / "submitted")),
    }
    rows = {row["student"]: row for row in csv.DictReader(open(root / "grades.csv"))}
    return root, home, the_fixtures, {r.student: r for r in results}, rows, survivors, changes, seconds


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def test_each_fixture_gets_its_exact_points(graded):
    _, _, the_fixtures, results, rows, _, _, _ = graded
    wrong = []
    for f in the_fixtures:
        r = results[f.student]
        got = {e.test_cell: e.points for e in r.exercises}
        expected = {e.test_cell: e.max_points for e in r.exercises} | f.points
        if r.status != "graded" or got != expected:
            wrong.append(f"{f.student}: expected {expected}, got {got} | {rows[f.student]['notes']}")
        if f.review and not any(f.review in line for line in r.review):
            wrong.append(f"{f.student}: expected a review line with {f.review!r}, got {r.review}")
    assert not wrong, "\n".join(wrong)


def test_honest_constructs_cost_nothing_but_are_listed_for_review(graded):
    root, _, _, results, _, _, _, _ = graded
    assert (
        results["honest_setattr"].score == FULL
        and results["honest_message"].score == FULL
        and results["honest_magic"].score == FULL
    )
    page = (root / "class_report.html").read_text()
    assert "Needs review" in page and "honest_setattr" in page and "setattr()" in page


def test_no_secret_reaches_any_file_the_grader_writes(graded):
    root, *_ = graded
    leaks = [
        str(p)
        for p in root.rglob("*")
        if p.is_file() and p.name != ".env" and any(s.encode() in p.read_bytes() for s in (PLANTED_KEY, DOTENV_SECRET))
    ]
    assert not leaks, leaks


def test_the_student_processes_saw_a_scrubbed_environment(graded):
    root, *_ = graded
    log = (root / "feedback" / "reads_env_key" / CHAPTER / "grading.log").read_text()
    assert "attempt: None" in log, log[-2000:]
    for student in (
        "reads_dotenv",
        "reads_repo_dotenv",
        "reads_grader_environ",
        "writes_checks",
        "writes_pth",
        "writes_release",
        "writes_results",
        "writes_home",
        "copies_other_student",
        "overwrites_other_student",
    ):
        log = (root / "feedback" / student / CHAPTER / "grading.log").read_text()
        assert "blocked:" in log and "attempt:" not in log, f"{student}: {log[-2000:]}"


def test_no_process_outlives_its_exercise(graded):
    *_, survivors, _, _ = graded
    assert not survivors, [(_cmdline(p), p) for p in survivors]


def test_nothing_changes_outside_the_graders_outputs(graded):
    _, home, *_, changes, _ = graded
    assert not any(changes.values()), changes
    assert not (home / "late").exists() and not (home / "planted.txt").exists()


def test_metadata_is_never_a_path(tmp_path):
    """A release stamp selects among the course's releases; anything else is the current checks."""
    planted = tmp_path / "submitted" / "x" / CHAPTER / "evil.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("raise SystemExit('ran the student code')")
    course_file = str(ROOT / "llmcourse" / "grading" / "ch02")  # an existing course file, as a stamp
    for stamp in (
        "../../submitted/x/02_transformer_anatomy/evil",
        str(planted.with_suffix("")),
        "/etc/passwd",
        course_file,
        {"a": 1},
        7,
    ):
        checks, note = course.checks_for(CHAPTER, stamp, latest=False, tag=stamp)
        assert checks is None and "current checks" in note, (stamp, checks, note)


def test_a_snapshot_without_exercises_is_one_error_row(tmp_path):
    """A broken checks file (a corrupt release snapshot) costs that submission a row, not the batch."""
    broken = tmp_path / "broken.py"
    broken.write_text("X = 1\n")
    sources = {CHAPTER: SOLUTION}
    results = engine.Engine(sources, workers=1).grade(
        [
            ("a", CHAPTER, ROOT / "solutions" / f"{CHAPTER}.ipynb", f"file:{broken}"),
            ("b", CHAPTER, ROOT / "solutions" / f"{CHAPTER}.ipynb"),
        ],
        progress=False,
    )
    assert results[0].status == "error" and "could not be loaded" in results[0].notes[0]
    assert results[1].status == "graded" and results[1].score == FULL


def test_redaction_of_every_string_of_a_result():
    result = results.SubmissionResult(
        "s",
        CHAPTER,
        notes=[f"key {PLANTED_KEY}"],
        exercises=[results.ExerciseResult("e", "t", 1, 1, "passed", output=f"x{DOTENV_SECRET}y")],
    )
    secrets = redaction.secret_values({"MY_API_KEY": PLANTED_KEY, "PATH": "/usr/bin"}, [])
    clean = redaction.redact_fields(result, secrets + [DOTENV_SECRET])
    assert PLANTED_KEY not in repr(clean) and DOTENV_SECRET not in repr(clean) and "[redacted]" in clean.notes[0]
    assert redaction.secret_values({"PATH": "/usr/bin:/bin"}, []) == []


def test_grading_refuses_without_the_sandbox_unless_told_and_then_says_so(tmp_path, monkeypatch, capsys):
    """Where the kernel lacks a mechanism, `make grade` stops with a message naming it; with
    --no-isolation it grades, and every report says in one line what was not isolated."""
    monkeypatch.setattr(
        isolation,
        "_probed",
        {"landlock": "Landlock is not enabled in this kernel", "namespaces": "yes", "drop-root": "yes"},
    )
    real_grade = course.grade
    monkeypatch.setattr(course, "grade", lambda **options: real_grade(tmp_path, **options))
    (tmp_path / "nbgrader_config.py").write_text((ROOT / "autograde" / "nbgrader_config.py").read_text())
    folder = tmp_path / "submitted" / "alice" / CHAPTER
    folder.mkdir(parents=True)
    nbformat.write(SOLUTION, folder / f"{CHAPTER}.ipynb")
    assert course.main(["grade", CHAPTER]) == 2
    assert "Landlock is not enabled" in capsys.readouterr().err and not (tmp_path / "grades.csv").exists()
    assert course.main(["grade", CHAPTER, "--no-isolation"]) == 0
    row = next(csv.DictReader(open(tmp_path / "grades.csv")))
    assert row["score"] == f"{FULL:g}" and engine.NOT_ISOLATED in row["notes"]
    assert engine.NOT_ISOLATED in (tmp_path / "feedback" / "alice" / CHAPTER / "grading.log").read_text()


TRIAL = """
import importlib.util, os, sys, tempfile
spec = importlib.util.spec_from_file_location("isolation", sys.argv[1])
iso = sys.modules["isolation"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(iso)
assert os.getuid() != 0 and iso.probe() == {"landlock": "yes", "namespaces": "yes", "drop-root": "yes"}, iso.probe()
scratch = tempfile.mkdtemp(dir=sys.argv[2])
read, write = os.pipe()
if os.fork() == 0:
    iso.enter_namespaces()  # a user namespace first: nothing here needs root
    if os.fork() == 0:
        iso.die_with_parent()
        iso.cap_processes()
        iso.restrict(iso.Policy(read_dirs=["/usr", "/lib", "/lib64"], scratch=scratch))
        seen = []
        for label, attempt in [
            ("pid", os.getpid),
            ("read", lambda: open("/etc/hostname").read()),
            ("write scratch", lambda: open(scratch + "/x", "w").write("ok")),
            ("write elsewhere", lambda: open(sys.argv[2] + "/evil", "w").write("x")),
            ("network", lambda: __import__("socket").create_connection(("127.0.0.1", 22), timeout=1)),
        ]:
            try:
                seen.append(f"{label}={attempt()!r}")
            except OSError as exc:
                seen.append(f"{label}=blocked {type(exc).__name__}")
        os.write(write, "|".join(seen).encode())
        os._exit(0)
    os.wait()
    os._exit(0)
os.close(write)
print(os.read(read, 4096).decode())
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists() or not Path("/usr/bin/python3").exists(),
    reason="needs root to become nobody, setpriv and a system Python",
)
def test_the_sandbox_works_for_an_instructor_without_root():
    """As an unprivileged user (an instructor's laptop), a user namespace makes the PID, network
    and mount namespaces possible, and Landlock confines the process the same way."""
    import shutil
    import subprocess
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="llmcourse-nonroot-"))  # pytest's own folder is root's alone
    try:
        shutil.copy(ROOT / "llmcourse" / "grading" / "isolation.py", folder / "isolation.py")
        (folder / "trial.py").write_text(TRIAL)
        for path in (folder, *folder.iterdir()):
            path.chmod(0o777)
        done = subprocess.run(
            [
                "/usr/bin/setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "/usr/bin/python3",
                str(folder / "trial.py"),
                str(folder / "isolation.py"),
                str(folder),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().split("|") == [
        "pid=1",
        "read=blocked PermissionError",
        "write scratch=2",
        "write elsewhere=blocked PermissionError",
        "network=blocked OSError",
    ], done.stdout


def test_grading_from_another_checkout_uses_the_graders_own_package(tmp_path):
    """`make grade` run from a clone while llmcourse is installed from elsewhere: the fork
    server starts in the installed package's folder, so the student's process imports the same
    llmcourse the sandbox lets it read (a second copy in the working directory was refused by
    Landlock, and every exercise failed)."""
    checkout = tmp_path / "clone"
    shutil.copytree(
        ROOT / "llmcourse", checkout / "llmcourse", ignore=shutil.ignore_patterns("checkpoints", "__pycache__")
    )
    script = tmp_path / "grade_one.py"
    script.write_text(
        "import sys, nbformat\n"
        "from pathlib import Path\n"
        "from llmcourse.grading.engine import Engine\n"
        f"solution = Path({str(ROOT / 'solutions' / f'{CHAPTER}.ipynb')!r})\n"
        f"engine = Engine({{{CHAPTER!r}: nbformat.read(solution, as_version=4)}}, time_limit=60)\n"
        f"(result,) = engine.grade([('ada', {CHAPTER!r}, solution)], progress=False)\n"
        "print(result.status, result.score == result.max_score > 0, result.notes)\n"
    )
    run = subprocess.run([sys.executable, str(script)], cwd=checkout, capture_output=True, text=True, timeout=600)
    assert run.stdout.split()[:2] == ["graded", "True"], run.stdout + run.stderr[-2000:]


def test_a_failure_of_the_graders_sandbox_costs_no_points():
    from llmcourse.grading.results import (
        SANDBOX_FAILED,
        ExerciseResult,
        SubmissionResult,
        not_graded_when_the_sandbox_failed,
    )

    result = SubmissionResult(
        "ada",
        CHAPTER,
        exercises=[
            ExerciseResult(
                "attention", "attention_tests", 0.0, 4.0, "error", messages=[f"{SANDBOX_FAILED}PermissionError"]
            ),
            ExerciseResult("pe", "pe_tests", 2.0, 2.0, "passed"),
        ],
    )
    not_graded_when_the_sandbox_failed(result)
    assert result.status == "error" and result.score is None and "the next run grades it again" in result.notes[-1]
