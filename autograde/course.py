"""Release student notebooks with nbgrader and grade submissions with the course's engine.

    python autograde/course.py release            # solutions/*.ipynb -> chapters/*.ipynb
    python autograde/course.py grade [--timeout S --memory GiB --workers N]
                                                  # autograde/submitted/* -> grades.csv + feedback/
    python autograde/course.py demo-submissions   # example submissions to try `grade` on
    python autograde/course.py mutants            # the mutation suite: catalogued mistakes must lose points

The course directory is this folder (``nbgrader_config.py`` sits beside this file). nbgrader
wants ``source/<chapter>/<chapter>.ipynb``; ``solutions/`` is the single source, so ``release``
copies each solution notebook there first. Submissions go to
``submitted/<student>/<chapter>/<chapter>.ipynb``; grading only reads them. Grading runs each
exercise of each submission in its own sandboxed process (``llmcourse.grading.engine``) and
records the points in nbgrader's gradebook, so ``nbgrader export`` still works.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import nbformat

COURSE = Path(__file__).resolve().parent
PROJECT = COURSE.parent
SOLUTIONS = PROJECT / "solutions"
CHAPTERS = PROJECT / "chapters"
PLANTED_BUGS = COURSE / "planted_bugs.json"


def chapter_names() -> list[str]:
    """Chapter ids such as ``02_transformer_anatomy``, from the notebooks in ``solutions/``."""
    return sorted(p.stem for p in SOLUTIONS.glob("*.ipynb"))


def nbgrader_api(root: Path):
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
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _check(result: dict, what: str) -> None:
    if not result.get("success"):
        raise RuntimeError(f"{what} failed:\n{result.get('error') or result.get('log')}")


def generate_assignment(root: Path, chapter: str) -> Path:
    """Copy the solution notebook into ``root/source`` and run nbgrader on it.

    Returns the path of the student edition nbgrader wrote under ``root/release``.
    """
    source = root / "source" / chapter
    source.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOLUTIONS / f"{chapter}.ipynb", source / f"{chapter}.ipynb")
    _check(nbgrader_api(root).generate_assignment(chapter), f"nbgrader generate_assignment {chapter}")
    return root / "release" / chapter / f"{chapter}.ipynb"


def release(chapters: list[str], root: Path = COURSE, dest: Path = CHAPTERS) -> list[Path]:
    """Write the student edition of each chapter to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in chapters:
        target = dest / f"{chapter}.ipynb"
        shutil.copyfile(generate_assignment(root, chapter), target)
        written.append(target)
    return written


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
    time_limit: float = 30.0,
    memory_gib: float = 4.0,
    workers: int | None = None,
    progress: bool = True,
) -> list:
    """Grade every submission under ``root/submitted/<student>/<chapter>/`` with the course's
    engine; write ``grades.csv``, ``feedback/<student>/<chapter>/`` (page and full log) and
    nbgrader's gradebook. Student files are only read. Returns the engine's results."""
    from llmcourse.grading import report
    from llmcourse.grading.engine import Engine, SubmissionResult

    chapters = chapters or chapter_names()
    submitted = root / "submitted"
    sources = {}
    items, unreadable = [], []
    for student in sorted(p for p in submitted.glob("*") if p.is_dir()):
        for chapter in chapters:
            if not (student / chapter).is_dir():
                continue
            path, note = find_notebook(student / chapter, chapter)
            if path is None:
                unreadable.append(SubmissionResult(student.name, chapter, status="error", notes=[note]))
                continue
            items.append((student.name, chapter, path, note))
    for chapter in sorted({c for _, c, _, _ in items}):
        generate_assignment(root, chapter)  # the gradebook needs the current source
        sources[chapter] = nbformat.read(SOLUTIONS / f"{chapter}.ipynb", as_version=4)
    engine = Engine(sources, time_limit=time_limit, memory_bytes=int(memory_gib * (1 << 30)), workers=workers or os.cpu_count() or 1)
    results = engine.grade([(s, c, p) for s, c, p, _ in items], progress=progress)
    for result, (_, _, _, note) in zip(results, items):
        if note:
            result.notes.insert(0, note)
    results = sorted(results + unreadable, key=lambda r: (r.student, r.chapter))
    for result in results:
        report.write_feedback(result, root)
    report.write_csv(results, csv_path or root / "grades.csv")
    if sources:
        report.record_in_gradebook(f"sqlite:///{root / 'gradebook.db'}", results)
    return results


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
    valid alternative: ``{student: (chapter, exercise key, "mistake" | "alternative", id)}``."""
    from llmcourse.grading.engine import exercises_of

    planted = {}
    for chapter in chapters:
        solution = nbformat.read(SOLUTIONS / f"{chapter}.ipynb", as_version=4)
        for key, exercise in exercises_of(chapter).items():
            variants = [("mistake", m.id, m.code) for m in exercise.mistakes]
            variants += [("alternative", str(i + 1), code) for i, code in enumerate(exercise.alternatives)]
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


def mutants(chapters: list[str], root: Path | None = None) -> tuple[list[tuple], list[str]]:
    """Grade every catalogued mistake and alternative through the real grading path.

    A mistake is caught when its exercise loses points and no other exercise does; an
    alternative passes with full marks. Returns the table rows and the misses.
    """
    import tempfile

    from llmcourse.grading.engine import exercises_of

    root = root or Path(tempfile.mkdtemp(prefix="llmcourse-mutants-"))
    shutil.copyfile(COURSE / "nbgrader_config.py", root / "nbgrader_config.py")
    planted = mutant_submissions(root, chapters)
    results = {r.student: r for r in grade(root, chapters, progress=False)}
    counts: dict[tuple[str, str], list[int]] = {}
    misses = []
    for student, (chapter, key, kind, ident) in planted.items():
        result = results[student]
        name = exercises_of(chapter)[key].name
        points = {e.name: (e.points, e.max_points) for e in result.exercises}
        others_full = all(p == m for n, (p, m) in points.items() if n != name)
        own, own_max = points.get(name, (None, None))
        ok = (own is not None and own < own_max and others_full) if kind == "mistake" else (result.score == result.max_score)
        row = counts.setdefault((chapter, name), [0, 0, 0, 0])
        index = 0 if kind == "mistake" else 2
        row[index] += ok
        row[index + 1] += 1
        if not ok:
            misses.append(f"{student}: {result.details} ({'; '.join(e.summary() for e in result.exercises)})")
    rows = [(chapter, name, *row) for (chapter, name), row in sorted(counts.items())]
    return rows, misses


def print_mutants(rows: list[tuple], misses: list[str]) -> None:
    print(f"{'chapter':<24} {'exercise':<34} {'bugs caught':>12} {'valid passed':>13}")
    for chapter, name, caught, bugs, passed, valid in rows:
        print(f"{chapter:<24} {name:<34} {f'{caught}/{bugs}':>12} {f'{passed}/{valid}':>13}")
    for miss in misses:
        print("MISS", miss)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["release", "grade", "demo-submissions", "mutants"])
    parser.add_argument("chapters", nargs="*", help="chapter ids (default: all in solutions/)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per exercise (default 30)")
    parser.add_argument("--memory", type=float, default=4.0, help="GiB per exercise (default 4)")
    parser.add_argument("--workers", type=int, default=None, help="processes at a time (default: every core)")
    args = parser.parse_args(argv)
    chapters = args.chapters or chapter_names()
    if args.command == "release":
        for path in release(chapters):
            print("wrote", path.relative_to(PROJECT))
    elif args.command == "mutants":
        rows, misses = mutants(chapters)
        print_mutants(rows, misses)
        return 1 if misses else 0
    elif args.command == "demo-submissions":
        for path in demo_submissions():
            print("wrote", path.relative_to(PROJECT))
    else:
        from llmcourse.grading import report

        results = grade(chapters=chapters, time_limit=args.timeout, memory_gib=args.memory, workers=args.workers)
        if not results:
            print("no submissions under autograde/submitted/<student>/<chapter>/ (try: make demo-submissions)")
        for r in results:
            score = f"{r.score:g}/{r.max_score:g}" if r.score is not None else "-"
            print(f"{r.student:>20} {r.chapter:<28} {score:>7} {r.status} {' | '.join(report.notes_of(r))}")
        print("grades: autograde/grades.csv, feedback: autograde/feedback/<student>/<chapter>/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
