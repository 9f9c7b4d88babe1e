"""Release student notebooks with nbgrader and grade submissions with the course's engine: the
batch logic and the command line (installed as ``llmcourse-grade``; ``make`` runs it through
``autograde/course.py``, a thin caller).

    python autograde/course.py release [--bump minor]
                                                  # bump the version, solutions/*.ipynb -> chapters/*.ipynb
                                                  # (set-up cells pinned to the new tag), commit, tag v<version>
    python autograde/course.py release --no-tag [CHAPTER ...]
                                                  # only rewrite chapters/ (while you work on a release)
    python autograde/course.py grade [--timeout S --memory GiB --workers N --no-isolation]
                                                  # autograde/submitted/* -> grades.csv + feedback/
    python autograde/course.py grade --scheduler local:N|tcp://HOST:8786|file:PATH
                                                  # the same, on a Dask cluster
    python autograde/course.py worker --scheduler tcp://HOST:8786 [--workers N]
                                                  # this machine's grading workers for that cluster
    python autograde/course.py demo-submissions   # example submissions to try `grade` on
    python autograde/course.py mutants            # the mutation suite: catalogued mistakes must lose points

The course directory is the repository's ``autograde/`` (``nbgrader_config.py`` sits there): the
repository is the checkout this package is installed from (``pip install -e .``), or the working
directory, or ``$LLMCOURSE_PROJECT``. nbgrader
wants ``source/<chapter>/<chapter>.ipynb``; ``solutions/`` is the single source, so ``release``
copies each solution notebook there first. Submissions go to
``submitted/<student>/<chapter>/<chapter>.ipynb``; grading only reads them. Grading runs each
exercise of each submission in its own sandboxed process (``llmcourse.grading.engine``) and
records the points in nbgrader's gradebook, so ``nbgrader export`` still works.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib
import json
import os
import re
import shutil
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat

from llmcourse.grading.releases import ReleaseChecks, ReleaseError, bumped, commit_and_tag, uncommitted


def find_project() -> Path:
    """The course's repository: ``$LLMCOURSE_PROJECT``, else the checkout this package is installed
    from (an editable install), else the working directory."""
    if os.environ.get("LLMCOURSE_PROJECT"):
        return Path(os.environ["LLMCOURSE_PROJECT"]).resolve()
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "autograde" / "nbgrader_config.py").is_file() else Path.cwd().resolve()


PROJECT = find_project()
COURSE = PROJECT / "autograde"
SOLUTIONS = PROJECT / "solutions"
CHAPTERS = PROJECT / "chapters"
PLANTED_BUGS = COURSE / "planted_bugs.json"


def student_markdown() -> ModuleType:
    """``book/_ext/student_markdown.py`` (MyST -> CommonMark for the student editions), which only
    releasing needs."""
    folder = str(PROJECT / "book" / "_ext")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("student_markdown")


def chapter_names() -> list[str]:
    """Chapter ids such as ``02_transformer_anatomy``, from the notebooks in ``solutions/``."""
    return sorted(p.stem for p in SOLUTIONS.glob("*.ipynb"))


def gradebook_url(root: Path, db: str | None = None) -> str:
    """The gradebook: ``db`` (e.g. ``postgresql+psycopg://user@host/course``) or SQLite in ``root``."""
    return db or f"sqlite:///{root / 'gradebook.db'}"


def nbgrader_api(root: Path, db: str | None = None):
    """An nbgrader API object for the course directory ``root`` (this folder or a copy)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    # nbgrader runs `alembic` from PATH to set up its database: use the one beside this Python.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = gradebook_url(root, db)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _check(result: dict, what: str) -> None:
    if not result.get("success"):
        raise RuntimeError(f"{what} failed:\n{result.get('error') or result.get('log')}")


def generate_assignment(root: Path, chapter: str, db: str | None = None) -> Path:
    """Copy the solution notebook into ``root/source`` and run nbgrader on it.

    Returns the path of the student edition nbgrader wrote under ``root/release``.
    """
    source = root / "source" / chapter
    source.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOLUTIONS / f"{chapter}.ipynb", source / f"{chapter}.ipynb")
    _check(nbgrader_api(root, db).generate_assignment(chapter), f"nbgrader generate_assignment {chapter}")
    return root / "release" / chapter / f"{chapter}.ipynb"


def checks_file(chapter: str) -> Path:
    return PROJECT / "llmcourse" / "grading" / f"ch{chapter[:2]}.py"


def checks_version(chapter: str) -> str:
    """The release version of a chapter: a hash of its checks (what decides grades)."""
    from llmcourse.grading.loading import checks_module, checks_sha256

    return checks_sha256(checks_module(chapter))[:12]


def book_config() -> dict:
    """The book's _config.yml (the repository's address, the .bib files)."""
    import yaml

    return yaml.safe_load((PROJECT / "_config.yml").read_text())


def bibliography() -> dict[str, Any]:
    """Every work of the book's .bib files (``bibtex_bibfiles`` in _config.yml), by key."""
    files = book_config()["sphinx"]["config"]["bibtex_bibfiles"]
    return student_markdown().load_bibliography([PROJECT / f for f in files])


def release(chapters: list[str], root: Path = COURSE, dest: Path = CHAPTERS) -> list[Path]:
    """Write the student edition of each chapter to ``dest``, stamped (``metadata.llmcourse``) with
    its checks version and the course's release tag, which finds these checks in git later
    (:mod:`llmcourse.grading.releases`) when a submission of this release is graded.

    Its Markdown is CommonMark + math, which JupyterLab and Colab render: MyST's citations,
    admonitions and bibliography are rewritten (``book/_ext/student_markdown.py``), and each
    rewritten cell keeps its MyST in its metadata for the book."""
    dest.mkdir(parents=True, exist_ok=True)
    written, works, tag = [], bibliography(), course_release()
    for chapter in chapters:
        nb = nbformat.read(generate_assignment(root, chapter), as_version=4)
        nb = student_markdown().to_commonmark(nb, works)
        nb.metadata["llmcourse"] = {"chapter": chapter, "version": checks_version(chapter), "release": tag}
        target = dest / f"{chapter}.ipynb"
        nbformat.write(nb, target)
        written.append(target)
    return written


def bump_version(part: str) -> str:
    """Bump the course's version (pyproject.toml's, which ``llmcourse.__version__`` reads once
    installed, and CITATION.cff's copy) by ``part`` ("major", "minor" or "patch"); returns the new
    version."""
    new = bumped(course_release().removeprefix("v"), part)
    for path, pattern in (
        (PROJECT / "pyproject.toml", r'(?m)^version = "[^"]+"'),
        (PROJECT / "CITATION.cff", r'(?m)^version: "[^"]+"'),
    ):
        if not path.is_file():
            continue
        text = path.read_text()
        path.write_text(re.sub(pattern, lambda m: m.group(0).split('"')[0] + f'"{new}"', text, count=1))
    return new


def tagged_release(part: str) -> str:
    """``make release``: bump the version, pin the set-up cells to its tag, write every chapter's
    student edition, commit exactly those files and tag the commit ``v<version>``. Refuses while the checks
    (``llmcourse/grading/``) have uncommitted changes: the tag must hold what the stamps name."""
    pending = uncommitted(PROJECT, ["llmcourse/grading"])
    if pending:
        raise ReleaseError(f"commit these first, the release's tag must hold them: {', '.join(pending)}")
    version, chapters = bump_version(part), chapter_names()
    pin_setup_cells(chapters)
    written = release(chapters)
    paths = [
        "pyproject.toml",
        "CITATION.cff",
        "solutions",
        *(str(p.relative_to(PROJECT)) for p in written),
    ]
    commit_and_tag(PROJECT, paths, f"v{version}", f"Release v{version}")
    return f"v{version}"


RELEASE_STAMP = re.compile(r"[0-9a-f]{12}")  # what checks_version writes
SETUP_INSTALL = re.compile(r'"llmcourse @ git\+[^"@]+?(?:@[^"]*)?"')


def course_release() -> str:
    """The course's release tag, ``v`` + pyproject.toml's version: what set-up cells install."""
    import tomllib

    return "v" + tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]


def pin_setup_cells(chapters: list[str]) -> list[Path]:
    """Make each solution notebook's set-up cell install the course from the repository of
    _config.yml (a fork's students install the fork) at :func:`course_release` (Colab then gets
    the code the notebook was written for, not whatever main holds). Returns the notebooks changed."""
    repository = book_config()["repository"]["url"].rstrip("/")
    tag, changed = course_release(), []
    for chapter in chapters:
        path = SOLUTIONS / f"{chapter}.ipynb"
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if c.cell_type == "code")
        pinned = SETUP_INSTALL.sub(lambda m: f'"llmcourse @ git+{repository}@{tag}"', cell.source)
        if pinned != cell.source:
            cell.source = pinned
            nbformat.write(nb, path)
            changed.append(path)
    return changed


RELEASES = ReleaseChecks(repo=PROJECT, cache=COURSE / ".release-checks", wheels=COURSE / "wheels")


def checks_for(chapter: str, version: str | None, latest: bool, tag: str | None = None) -> tuple[str | None, str]:
    """The checks to grade a submission of release ``version`` (stamped with ``tag``) with, and a
    note when they are not the current ones: that release's checks, found in git, unless ``latest``.

    The stamp is a value compared with what git holds, never a path: anything else is graded with
    the current checks."""
    if version is None:
        return None, "no release stamp in the notebook: graded with the current checks"
    if not isinstance(version, str) or not RELEASE_STAMP.fullmatch(version):
        return None, "the release stamp is not one this course writes: graded with the current checks"
    if latest or version == checks_version(chapter):
        return None, ""
    path, _ = RELEASES.find(chapter, version, tag)
    if path is not None:
        return f"file:{path.resolve()}", f"graded with the checks of its release {version}"
    return None, f"release {version} is unknown here: graded with the current checks"


# ---------------------------------------------------------------- grading


def find_notebook(folder: Path, chapter: str) -> tuple[Path | None, str]:
    """The notebook to grade in a student's chapter folder, and a note when it was not the
    expected name (a single notebook of another name is graded)."""
    expected = folder / f"{chapter}.ipynb"
    if expected.exists():
        return expected, ""
    found = sorted(folder.glob("*.ipynb"))
    if len(found) == 1:
        return found[0], f"graded {found[0].name} (expected {expected.name})"
    names = ", ".join(p.name for p in found) or "none"
    return None, f"expected {expected.name}, found notebooks: {names}"


def grade(
    root: Path = COURSE,
    chapters: list[str] | None = None,
    csv_path: Path | None = None,
    *,
    source: Path | None = None,
    chapter_hint: str | None = None,
    students: list[str] | None = None,
    regrade: bool = False,
    regrade_with_latest: bool = False,
    term_file: Path | None = None,
    overrides_file: Path | None = None,
    db: str | None = None,
    time_limit: float = 30.0,
    memory_gib: float = 4.0,
    workers: int | None = None,
    progress: bool = True,
    chunk: int = 16,
    scheduler: str | None = None,
    isolation: bool = True,
) -> list:
    """Grade the class and write every report. Returns the results of every row.

    ``source``: an LMS zip or a folder of loose notebooks, collected into ``root/submitted``
    first (``chapter_hint`` for a zip of one assignment whose file names lack the chapter id).
    Results are kept in ``root/results/<student>/<chapter>.json`` as soon as each batch of
    ``chunk`` submissions is graded, so an interrupted run resumes where it stopped; a
    submission whose file and checks are unchanged is not graded again unless ``regrade`` or
    its student is in ``students``. ``chapters`` and ``students`` limit what is graded; the
    reports always hold the whole class. Reports: ``grades.csv`` (with roster rows "missing"),
    ``feedback/``, ``class_report.html`` with ``pages/`` (each submission's answers and
    feedback), the LMS exports (``llmcourse.grading.lms``), and nbgrader's gradebook (``db``: a
    SQLAlchemy URL, e.g. PostgreSQL; default SQLite in ``root``). The term (``term_file``,
    default ``root/term.toml``) and the instructor's overrides (``overrides_file``, default
    ``root/overrides.toml``) are applied to every result, kept or fresh, whenever reports are written.

    ``scheduler``: grade on a Dask cluster instead of this machine (``local:N``, a scheduler's
    address or ``file:<scheduler file>``; see ``llmcourse.grading.distributed``): each
    submission is one task, stored here once as it arrives; everything else is the same.
    """
    from llmcourse.grading import classreport, collect, lms, overrides, report, term
    from llmcourse.grading import isolation as sandbox_isolation
    from llmcourse.grading.engine import Engine
    from llmcourse.grading.results import SANDBOX_FAILED, SubmissionResult

    if isolation:
        sandbox_isolation.require()  # before anything is collected or written

    known = chapter_names()
    if source is not None:
        found = collect.collect(Path(source), root, known, chapter_hint)
        print(found.summary())
    the_term = term.read_term(term_file or root / "term.toml")
    judgement = overrides.read_overrides(overrides_file or root / "overrides.toml", known)
    wanted = set(chapters or known)
    store = root / "results"

    items, skipped, reused = [], [], 0
    latest: dict[tuple[str, str], bool] = {}
    for folder in sorted(p for p in (root / "submitted").glob("*/*") if p.is_dir()):
        student, chapter = folder.parent.name, folder.name
        if chapter not in wanted:
            continue
        path, note = find_notebook(folder, chapter)
        if path is None:
            skipped.append(SubmissionResult(student, chapter, status="error", notes=[note]))
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        try:
            stamp = json.loads(data).get("metadata", {}).get("llmcourse", {})
            version, tag = stamp.get("version"), stamp.get("release")
        except (ValueError, AttributeError):
            version, tag = None, None
        stored = store / student / f"{chapter}.json"
        try:
            kept = json.loads(stored.read_text()) if stored.exists() else {}
        except ValueError:
            kept = {}
        # --regrade-with-latest is remembered per submission: later plain runs keep that choice
        # (--regrade alone grades each submission with its release's checks again).
        latest[(student, chapter)] = regrade_with_latest or (bool(kept.get("with_latest")) and not regrade)
        checks, checks_note = checks_for(chapter, version, latest[(student, chapter)], tag)
        forced = regrade or (students is not None and student in students)
        if students is not None and student not in students:
            continue  # --student grades exactly those students; the others' kept rows stay
        if (
            kept and not forced and kept.get("result", {}).get("status") != "error"
        ):  # what could not be graded is tried again
            if kept.get("sha256") == digest and kept.get("result", {}).get("checks") == (
                checks or f"llmcourse.grading.ch{chapter[:2]}"
            ):
                reused += 1
                continue
        meta = collect.read_meta(folder)
        items.append(
            (student, chapter, path, checks, [n for n in (meta.get("note"), note, checks_note) if n], meta, digest)
        )

    sources = {}
    for chapter in sorted({i[1] for i in items}):
        _retry(functools.partial(generate_assignment, root, chapter, db))  # the gradebook needs the current source
        sources[chapter] = nbformat.read(SOLUTIONS / f"{chapter}.ipynb", as_version=4)
    print(f"grading {len(items)} submissions ({reused} unchanged since they were graded: kept)")

    def store_result(result, item) -> None:
        _, chapter, _, _, notes, meta, digest = item
        target = store / result.student / f"{chapter}.json"
        if target.exists() and any(n.startswith(f"not graded: {SANDBOX_FAILED}") for n in result.notes):
            print(f"{result.student}/{chapter}: {result.notes[-1]}; its earlier result is kept until then")
            return
        result.notes[:0] = notes
        _apply_lateness(result, the_term, meta)
        report.write_feedback(result, root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            json.dumps(
                {
                    "sha256": digest,
                    "meta": meta,
                    "with_latest": latest[(result.student, chapter)],
                    "result": result.to_dict(),
                    "feedback_of": _digest(result),
                },
                indent=1,
            )
        )

    if scheduler and items:
        _, failed = _grade_on_cluster(
            scheduler, items, sources, store_result, time_limit, memory_gib, workers, progress, isolation
        )
        # A submission graded in an earlier run keeps that result until the next run succeeds.
        skipped += [r for r in failed if not (store / r.student / f"{r.chapter}.json").exists()]
    else:
        engine = Engine(
            sources,
            time_limit=time_limit,
            memory_bytes=int(memory_gib * (1 << 30)),
            workers=workers or os.cpu_count() or 1,
            isolation=isolation,
        )
        for start in range(0, len(items), chunk):
            batch = items[start : start + chunk]
            results = engine.grade([(s, c, p, k) for s, c, p, k, *_ in batch], progress=progress)
            for result, item in zip(results, batch):
                store_result(result, item)

    everything, originals, submitted, notebooks = list(skipped), {}, {}, {}
    for stored in sorted(store.glob("*/*.json")):
        kept = json.loads(stored.read_text())
        result = SubmissionResult.from_dict(kept["result"])
        key, meta = (stored.parent.name, stored.stem), kept.get("meta", {})
        # The term and the overrides as they are now (either may have changed since this result
        # was stored) decide the late penalty, the final points and the notes; the stored result
        # stays as graded.
        result.late_penalty, result.notes = 0.0, [n for n in result.notes if not n.startswith(LATE_NOTE)]
        overrides.apply(result, judgement.get(key))
        _apply_lateness(result, the_term, meta)
        shown = _digest(result)
        if kept.get("feedback_of") != shown:  # the feedback shows the result as it is now, written once
            report.write_feedback(result, root)
            stored.write_text(json.dumps({**kept, "feedback_of": shown}, indent=1))
        everything.append(result)
        originals[key] = meta.get("original") or ""
        submitted[key] = datetime.fromisoformat(meta["submitted_at"]) if meta.get("submitted_at") else None
        notebooks[key] = find_notebook(root / "submitted" / key[0] / key[1], key[1])[0]
    chapters_seen = sorted({r.chapter for r in everything} | (set(chapters or []) & set(known)))
    present = {(r.student, r.chapter) for r in everything}
    for student in sorted(the_term.roster):
        for chapter in chapters_seen:
            if (student, chapter) not in present:
                absent = SubmissionResult(student, chapter, status="missing", notes=["no submission"])
                everything.append(overrides.apply(absent, judgement.get((student, chapter))))
    present = {(r.student, r.chapter) for r in everything}
    for student, chapter in sorted(set(judgement) - present):
        print(
            f"overrides: nothing graded for {student}/{chapter} and {student} is not on the roster: entry not applied"
        )
    everything.sort(key=lambda r: (r.student, r.chapter))
    for r in skipped:
        report.write_feedback(r, root)
    _record_all(root, db, everything)
    report.write_csv(everything, csv_path or root / "grades.csv", the_term.roster, the_term.missing)
    classreport.class_report(
        everything,
        root / "class_report.html",
        similar_answers(root, chapters_seen, the_term.similarity),
        the_term.similarity,
    )
    classreport.write_pages(root, everything, notebooks)
    lms.gradebook_csvs(everything, the_term, root)
    lms.moodle_worksheets(root, everything, the_term, originals, submitted)
    lms.feedback_zips(root, everything, originals)
    return everything


def _record_all(root: Path, db: str | None, results: list) -> None:
    """Every graded result, kept or fresh, in nbgrader's gradebook with its late penalty as it is
    now (the gradebook, grades.csv and the exports hold the same scores); a chapter the gradebook
    does not know (a new or cleaned gradebook) is generated there first."""
    from nbgrader.api import Gradebook, MissingEntry

    from llmcourse.grading import report

    graded = [r for r in results if r.status in ("graded", "excused")]
    with Gradebook(gradebook_url(root, db)) as gb:
        unknown = []
        for chapter in sorted({r.chapter for r in graded}):
            try:
                gb.find_assignment(chapter)
            except MissingEntry:
                unknown.append(chapter)
    for chapter in unknown:
        _retry(functools.partial(generate_assignment, root, chapter, db))
    report.record_in_gradebook(gradebook_url(root, db), graded)


def similar_answers(root: Path, chapters: list[str], settings) -> list:
    """The class's similar answer cells, chapter by chapter (``llmcourse.grading.similarity``),
    over every submission in ``root/submitted``; the starter code is the released chapter's."""
    import time

    from llmcourse.grading import similarity

    started, pairs = time.perf_counter(), []
    for chapter in chapters:
        submissions = {}
        for folder in sorted((root / "submitted").glob(f"*/{chapter}")):
            path, _ = find_notebook(folder, chapter)
            if path is not None:
                submissions[folder.parent.name] = path
        if submissions:
            pairs += similarity.class_pairs(
                submissions, chapter, CHAPTERS / f"{chapter}.ipynb", settings, SOLUTIONS / f"{chapter}.ipynb"
            )
    if pairs:
        print(
            f"similar answers: {len(pairs)} pair(s) at or above {settings.threshold:.0%} "
            f"(class report; {time.perf_counter() - started:.1f} s)"
        )
    return pairs


def _grade_on_cluster(
    scheduler, items, sources, store_result, time_limit, memory_gib, workers, progress, isolation=True
) -> tuple[list, list]:
    """Grade ``items`` on a Dask cluster; store each result once as it arrives. Returns the
    results and, for submissions that could not be graded there, error rows (not stored)."""
    from tqdm.auto import tqdm

    from llmcourse.grading import distributed
    from llmcourse.grading.results import SubmissionResult

    tasks = [
        distributed.task_for(i, s, c, p, k, time_limit, int(memory_gib * (1 << 30)), isolation)
        for i, (s, c, p, k, *_) in enumerate(items)
    ]
    fresh, failed = [], []
    with distributed.connect(scheduler, workers) as client:
        print(f"grading on {scheduler}: {len(client.scheduler_info()['workers'])} workers")
        bar = tqdm(total=len(tasks), desc="grading", unit="submission", disable=not progress)
        for index, result, error in distributed.grade_on_cluster(client, tasks, sources):
            student, chapter = items[index][0], items[index][1]
            if result is None:
                failed.append(
                    SubmissionResult(
                        student,
                        chapter,
                        status="error",
                        notes=[f"not graded on the cluster ({error}); the next run grades it again"],
                    )
                )
            else:
                store_result(result, items[index])
                fresh.append(result)
            bar.update()
        bar.close()
    print(f"graded {len(fresh)} submissions on the cluster" + (f", {len(failed)} not graded" if failed else ""))
    return fresh, failed


def run_worker(scheduler: str, processes: int) -> int:
    """This machine's grading workers (`course.py worker --scheduler ...`), until Ctrl-C."""
    from llmcourse.grading.distributed import worker_command

    command, env = worker_command(scheduler, processes)
    print(f"grading worker: {processes} process(es) joining {scheduler} (Ctrl-C stops them)")
    os.execve(command[0], command, env)


def _retry(action, attempts: int = 6):
    """Run ``action`` again when another grader holds the same gradebook rows (PostgreSQL)."""
    import random
    import time

    for attempt in range(attempts):
        try:
            return action()
        except Exception:  # noqa: BLE001
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.2, 1.0) * (attempt + 1))


LATE_NOTE = "late by "


def _digest(result) -> str:
    """What a student's feedback was last written from (the result with lateness and overrides)."""
    return hashlib.sha256(json.dumps(result.to_dict(), sort_keys=True).encode()).hexdigest()


def _apply_lateness(result, the_term, meta: dict) -> None:
    if result.status != "graded":
        return
    submitted = datetime.fromisoformat(meta["submitted_at"]) if meta.get("submitted_at") else None
    days = the_term.days_late(result.student, result.chapter, submitted, bool(meta.get("late_marker")))
    if days:
        result.late_penalty = the_term.penalty(result.raw_score, days)
        result.notes.append(f"{LATE_NOTE}{days} day(s): -{result.late_penalty:g} points")


# ---------------------------------------------------------------- example submissions


def demo_submissions(root: Path = COURSE) -> list[Path]:
    """Example submissions for every released chapter: ``solution`` (full marks), ``untouched``
    (the student edition as released: zero) and one per planted bug in ``planted_bugs.json``
    (each loses exactly the points of the exercise it breaks)."""
    bugs = json.loads(PLANTED_BUGS.read_text())
    written = []

    def write(student: str, chapter: str, nb: nbformat.NotebookNode) -> None:
        folder = root / "submitted" / student / chapter
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{chapter}.ipynb")
        written.append(folder / f"{chapter}.ipynb")

    for chapter in chapter_names():
        solution = nbformat.read(SOLUTIONS / f"{chapter}.ipynb", as_version=4)
        write("solution", chapter, solution)
        write("untouched", chapter, nbformat.read(CHAPTERS / f"{chapter}.ipynb", as_version=4))
        for bug in bugs.get(chapter, []):
            nb = nbformat.read(SOLUTIONS / f"{chapter}.ipynb", as_version=4)
            cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == bug["cell"])
            if bug["find"] not in cell.source:
                raise ValueError(f"planted bug {bug['student']}: {bug['find']!r} is not in cell {bug['cell']}")
            cell.source = cell.source.replace(bug["find"], bug["replace"])
            write(bug["student"], chapter, nb)
    return written


# ---------------------------------------------------------------- the mutation suite


def mutant_submissions(root: Path, chapters: list[str]) -> dict[str, tuple[str, str, str, str]]:
    """Submissions made from the solution with one answer replaced by a catalogued mistake or a
    valid alternative (``autograde/alternatives/``, not shipped to students):
    ``{student: (chapter, exercise key, "mistake" | "alternative", id)}``."""
    from llmcourse.grading.alternatives import alternatives_of
    from llmcourse.grading.loading import exercises_of

    planted = {}
    for chapter in chapters:
        solution = nbformat.read(SOLUTIONS / f"{chapter}.ipynb", as_version=4)
        alternatives = alternatives_of(chapter)
        for key, exercise in exercises_of(chapter).items():
            variants = [("mistake", m.id, m.code) for m in exercise.mistakes]
            variants += [("alternative", str(i + 1), code) for i, code in enumerate(alternatives.get(key, ()))]
            for kind, ident, code in variants:
                nb = nbformat.from_dict(json.loads(json.dumps(solution)))
                cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise.cell)
                cell.source = code.strip() + "\n"
                student = f"{kind}-{chapter[:2]}-{key}-{ident}"
                folder = root / "submitted" / student / chapter
                folder.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, folder / f"{chapter}.ipynb")
                planted[student] = (chapter, key, kind, ident)
    return planted


def mutants(chapters: list[str], root: Path | None = None, visible: bool = True) -> tuple[list[tuple], list[str]]:
    """Grade every catalogued mistake and alternative through the engine, as `make grade` does.

    Each mutant is the solution notebook with one answer replaced; only that exercise is graded
    (the others are the solution's, which the solution itself shows to be full marks). A mistake
    is caught when its exercise loses points; an alternative passes with full marks. Each mistake
    is also checked as the student's visible test cell checks it: one that loses points when
    graded but passes every visible check would mislead the student, and is a miss
    (``visible=False`` leaves that in-process half out, for tests/test_autograde.py:
    tests/test_grading_contract.py checks that the visible checks fail on every mistake and name
    it). Returns the table rows (chapter, exercise, mistakes caught, mistakes, caught by the visible checks,
    alternatives passed, alternatives) and the misses.
    """
    import tempfile

    from llmcourse.grading.contract import GradingError, check, mistake_answer
    from llmcourse.grading.engine import Engine
    from llmcourse.grading.loading import exercises_of

    def caught_visibly(exercise, ident: str) -> bool:
        mistake = next(m for m in exercise.mistakes if m.id == ident)
        try:
            check(exercise, mistake_answer(exercise, mistake), hidden=False, quiet=True)
        except GradingError:
            return True
        return False

    root = root or Path(tempfile.mkdtemp(prefix="llmcourse-mutants-"))
    planted = mutant_submissions(root, chapters)
    sources = {c: nbformat.read(SOLUTIONS / f"{c}.ipynb", as_version=4) for c in chapters}
    items: list[tuple] = [
        (student, chapter, root / "submitted" / student / chapter / f"{chapter}.ipynb", None, {key})
        for student, (chapter, key, _, _) in planted.items()
    ]
    items += [(f"solution-{c}", c, SOLUTIONS / f"{c}.ipynb") for c in chapters]
    results = {r.student: r for r in Engine(sources).grade(items, progress=False)}
    counts: dict[tuple[str, str], list[int]] = {}
    misses = [
        f"solution-{c}: {results[f'solution-{c}'].details}"
        for c in chapters
        if results[f"solution-{c}"].score != results[f"solution-{c}"].max_score
    ]
    for student, (chapter, key, kind, ident) in planted.items():
        result = results[student]
        exercise = exercises_of(chapter)[key]
        (own,) = result.exercises
        ok = own.points < own.max_points if kind == "mistake" else own.points == own.max_points
        row = counts.setdefault((chapter, exercise.name), [0, 0, 0, 0, 0])
        if kind == "mistake":
            row[0] += ok
            row[1] += 1
            visibly = caught_visibly(exercise, ident) if visible else None
            row[2] += bool(visibly)
            if ok and visibly is False:
                misses.append(f"{student}: passes every visible check, then loses points when graded: {own.summary()}")
        else:
            row[3] += ok
            row[4] += 1
        if not ok:
            misses.append(f"{student}: {own.summary()}")
    rows = [(chapter, name, *row) for (chapter, name), row in sorted(counts.items())]
    return rows, misses


def print_mutants(rows: list[tuple], misses: list[str]) -> None:
    print(f"{'chapter':<24} {'exercise':<34} {'bugs caught':>12} {'caught visibly':>15} {'valid passed':>13}")
    for chapter, name, caught, bugs, visibly, passed, valid in rows:
        print(f"{chapter:<24} {name:<34} {f'{caught}/{bugs}':>12} {f'{visibly}/{bugs}':>15} {f'{passed}/{valid}':>13}")
    bugs, visibly = sum(r[3] for r in rows), sum(r[4] for r in rows)
    print(
        f"{'all':<24} {'':<34} {f'{sum(r[2] for r in rows)}/{bugs}':>12} {f'{visibly}/{bugs}':>15} "
        f"{f'{sum(r[5] for r in rows)}/{sum(r[6] for r in rows)}':>13}"
    )
    for miss in misses:
        print("MISS", miss)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["release", "grade", "demo-submissions", "mutants", "worker"])
    parser.add_argument("chapters", nargs="*", help="chapter ids (default: all in solutions/)")
    parser.add_argument(
        "--bump", choices=["major", "minor", "patch"], default="patch", help="release: the version part to bump"
    )
    parser.add_argument(
        "--no-tag", action="store_true", help="release: only write chapters/ (no version bump, commit or tag)"
    )
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="an LMS zip (Canvas, Moodle, Blackboard) or a folder of loose notebooks",
    )
    parser.add_argument("--chapter", help="the chapter of a zip whose file names do not say it")
    parser.add_argument("--student", action="append", help="re-grade these students only (repeatable)")
    parser.add_argument("--regrade", action="store_true", help="grade again even what is unchanged")
    parser.add_argument("--regrade-with-latest", action="store_true", help="use the current checks for every release")
    parser.add_argument("--term", type=Path, help="the term's settings (default: autograde/term.toml)")
    parser.add_argument("--overrides", type=Path, help="the instructor's overrides (default: autograde/overrides.toml)")
    parser.add_argument(
        "--db", help="nbgrader gradebook URL (default: SQLite in autograde/), e.g. postgresql+psycopg://..."
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per exercise (default 30)")
    parser.add_argument("--memory", type=float, default=4.0, help="GiB per exercise (default 4)")
    parser.add_argument("--workers", type=int, default=None, help="processes at a time (default: every core)")
    parser.add_argument(
        "--no-isolation",
        dest="isolation",
        action="store_false",
        help="grade without the operating-system sandbox where the kernel lacks it (every report says so)",
    )
    parser.add_argument(
        "--scheduler",
        help="grade on a Dask cluster: local:N (N worker processes here), "
        "tcp://HOST:8786 (a `dask scheduler`) or file:PATH (its --scheduler-file); "
        "with `worker`, the scheduler this machine's workers join",
    )
    return parser


def stop_on_sigterm() -> None:
    """Make SIGTERM stop grading as Ctrl-C does (what was graded is kept, the same command
    resumes). ``kill`` sends SIGTERM, and make passes SIGTERM on to the grader (a SIGINT sent
    to make alone it does not: it waits for the grader to finish; Ctrl-C reaches both)."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)  # options and chapters in any order
    chapters = args.chapters or chapter_names()
    if args.command == "release":
        if args.no_tag:
            for path in release(chapters):
                print("wrote", path.relative_to(PROJECT))
            return 0
        try:
            if args.chapters:
                parser.error("a tagged release releases every chapter: name chapters only with --no-tag")
            tag = tagged_release(args.bump)
        except ReleaseError as exc:
            print(f"not releasing: {exc}", file=sys.stderr)
            return 2
        print(f"released {tag} (publish it with: git push --follow-tags)")
    elif args.command == "mutants":
        rows, misses = mutants(chapters)
        print_mutants(rows, misses)
        return 1 if misses else 0
    elif args.command == "worker":
        if not args.scheduler:
            parser.error("worker needs --scheduler tcp://HOST:8786 (or file:PATH)")
        return run_worker(args.scheduler, args.workers or os.cpu_count() or 1)
    elif args.command == "demo-submissions":
        for path in demo_submissions():
            print("wrote", path.relative_to(PROJECT))
    else:
        from llmcourse.grading import report
        from llmcourse.grading.isolation import IsolationError
        from llmcourse.grading.term import SettingsError

        try:
            stop_on_sigterm()
            results = grade(
                chapters=args.chapters or None,
                source=args.source,
                chapter_hint=args.chapter,
                students=args.student,
                regrade=args.regrade,
                regrade_with_latest=args.regrade_with_latest,
                term_file=args.term,
                overrides_file=args.overrides,
                db=args.db,
                time_limit=args.timeout,
                memory_gib=args.memory,
                workers=args.workers,
                scheduler=args.scheduler,
                isolation=args.isolation,
            )
        except (IsolationError, SettingsError) as exc:
            print(f"not grading: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            kept = len(list((COURSE / "results").glob("*/*.json")))
            print(
                f"\nstopped: {kept} results are kept in autograde/results/; run the same command again to "
                "resume (what was graded is not graded again)",
                file=sys.stderr,
            )
            return 130
        if not results:
            print("no submissions under autograde/submitted/<student>/<chapter>/ (try: make demo-submissions)")
        for r in results:
            score = f"{r.score:g}/{r.max_score:g}" if r.score is not None else "-"
            print(f"{r.student:>20} {r.chapter:<28} {score:>7} {r.status} {' | '.join(report.notes_of(r))}")
        print(
            "grades: autograde/grades.csv (canvas_grades.csv, moodle_grades.csv), "
            "class report: autograde/class_report.html "
            "(each submission: autograde/pages/<chapter>/<student>.html), "
            "feedback: autograde/feedback/<student>/<chapter>/, "
            "per chapter for the LMSs (feedback zips, Moodle grading worksheet): autograde/export/"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
