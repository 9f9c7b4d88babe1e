"""Release student notebooks and grade submissions with nbgrader.

    python autograde/course.py release            # solutions/*.ipynb -> chapters/*.ipynb
    python autograde/course.py grade              # autograde/submitted/* -> grades.csv + feedback/
    python autograde/course.py demo-submissions   # example submissions to try `grade` on

The course directory is this folder (``nbgrader_config.py`` sits beside this file). nbgrader
wants ``source/<chapter>/<chapter>.ipynb``; ``solutions/`` is the single source, so ``release``
copies each solution notebook there first. Submissions go to
``submitted/<student>/<chapter>/<chapter>.ipynb``; grading never modifies or deletes them
(a repaired copy is graded when a notebook needs repair).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
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


@dataclass
class Result:
    student: str
    chapter: str
    score: float | None = None
    max_score: float | None = None
    status: str = "graded"
    details: str = ""
    notes: list[str] = field(default_factory=list)


def _first_line(cell) -> str:
    return next((line.strip() for line in cell.source.splitlines() if line.strip()), "")


def prepare_submission(path: Path, source: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """Read a submission and repair what nbgrader cannot grade, returning the notebook and notes.

    Raises ``ValueError`` with a readable message for a file that is not a notebook at all.
    Repairs, each reported in the notes:

    - a cell duplicated together with its nbgrader id (nbgrader would abort the whole batch)
      keeps its code but loses the duplicate id;
    - cells whose nbgrader metadata another editor stripped get it back when they can be
      recognised (same cell id, or same first line as in the source);
    - graded test cells that cannot be found are appended from the source, so the tests still
      run after all of the student's code.
    """
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same treatment
        raise ValueError(f"{path.name} is not a readable notebook ({type(exc).__name__}: {exc})") from None
    notes = []
    seen: set[str] = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in seen:
            del cell.metadata["nbgrader"]
            notes.append(f"cell '{grade_id}' appeared more than once; graded the first copy, kept the others as plain cells")
        elif grade_id is not None:
            seen.add(grade_id)
    restored, appended = [], []
    for original in source.cells:
        meta = original.metadata.get("nbgrader", {})
        if "grade_id" not in meta or meta["grade_id"] in seen:
            continue
        match = next(
            (
                c
                for c in nb.cells
                if "nbgrader" not in c.metadata
                and c.cell_type == original.cell_type
                and (c.get("id") == original.get("id") or _first_line(c) == _first_line(original))
            ),
            None,
        )
        if match is not None:
            match.metadata["nbgrader"] = dict(meta)
            restored.append(meta["grade_id"])
        elif meta.get("grade"):
            nb.cells.append(nbformat.from_dict(json.loads(json.dumps(original))))
            appended.append(meta["grade_id"])
    if restored:
        notes.append(f"restored lost nbgrader metadata of cells: {', '.join(restored)}")
    if appended:
        notes.append(f"test cells not found, appended from the source: {', '.join(appended)}")
    return nb, notes


def _score(root: Path, chapter: str, student: str, result: Result) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        submission = gb.find_submission(chapter, student)
        result.score, result.max_score = submission.score, submission.max_score
        grades = [g for nb in submission.notebooks for g in nb.grades if g.max_score]
        result.details = "; ".join(f"{g.name}={g.score:g}/{g.max_score:g}" for g in sorted(grades, key=lambda g: g.name))


def grade_one(root: Path, chapter: str, student: str, source: nbformat.NotebookNode) -> Result:
    """Autograde one student's chapter. Never raises: problems become the result's status."""
    result = Result(student, chapter)
    folder = root / "submitted" / student / chapter
    path = folder / f"{chapter}.ipynb"
    if not path.exists():
        found = ", ".join(p.name for p in folder.glob("*.ipynb")) or "none"
        result.status, result.notes = "error", [f"expected {path.name}, found notebooks: {found}"]
        return result
    try:
        nb, result.notes = prepare_submission(path, source)
    except ValueError as exc:
        result.status, result.notes = "error", [str(exc)]
        return result
    api = nbgrader_api(root)
    if result.notes:
        # Grade a repaired copy in place, then put the student's file back exactly as submitted
        # (a copy also stays in originals/ should anything stop half-way).
        original = root / "originals" / student / chapter / path.name
        original.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, original)
        nbformat.write(nb, path)
        try:
            outcome = api.autograde(chapter, student)
        finally:
            shutil.copyfile(original, path)
    else:
        outcome = api.autograde(chapter, student)
    if not outcome.get("success"):
        last_line = (outcome.get("error") or "unknown error").strip().splitlines()[-1]
        result.status = "error"
        result.notes.append(f"nbgrader could not grade it: {last_line}")
        return result
    _check(api.generate_feedback(chapter, student), f"feedback for {student}/{chapter}")
    _score(root, chapter, student, result)
    return result


def grade(root: Path = COURSE, chapters: list[str] | None = None, csv_path: Path | None = None) -> list[Result]:
    """Grade every submission under ``root/submitted`` and write ``grades.csv``."""
    from tqdm.auto import tqdm

    chapters = chapters or chapter_names()
    submitted = root / "submitted"
    work = [
        (chapter, student.name)
        for student in sorted(p for p in submitted.glob("*") if p.is_dir())
        for chapter in chapters
        if (student / chapter).is_dir()
    ]
    results = []
    sources = {}
    for chapter in sorted({c for c, _ in work}):
        generate_assignment(root, chapter)  # the gradebook needs the current source
        sources[chapter] = nbformat.read(SOLUTIONS / f"{chapter}.ipynb", as_version=4)
    for chapter, student in tqdm(work, desc="grading", unit="notebook"):
        results.append(grade_one(root, chapter, student, sources[chapter]))
    csv_path = csv_path or root / "grades.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "chapter", "score", "max_score", "status", "details", "notes"])
        for r in results:
            writer.writerow([r.student, r.chapter, r.score, r.max_score, r.status, r.details, " | ".join(r.notes)])
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["release", "grade", "demo-submissions"])
    parser.add_argument("chapters", nargs="*", help="chapter ids (default: all in solutions/)")
    args = parser.parse_args(argv)
    chapters = args.chapters or chapter_names()
    if args.command == "release":
        for path in release(chapters):
            print("wrote", path.relative_to(PROJECT))
    elif args.command == "demo-submissions":
        for path in demo_submissions():
            print("wrote", path.relative_to(PROJECT))
    else:
        results = grade(chapters=chapters)
        if not results:
            print("no submissions under autograde/submitted/<student>/<chapter>/ (try: make demo-submissions)")
        for r in results:
            score = f"{r.score:g}/{r.max_score:g}" if r.score is not None else "-"
            print(f"{r.student:>20} {r.chapter:<28} {score:>7} {r.status} {' | '.join(r.notes)}")
        print("grades: autograde/grades.csv, feedback: autograde/feedback/<student>/<chapter>/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
