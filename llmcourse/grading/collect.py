"""Collect submissions from wherever an instructor has them, into one layout.

Grading reads ``<root>/submitted/<student>/<chapter>/<chapter>.ipynb``. :func:`collect` fills
that layout from an LMS zip download, a folder of loose notebooks, or an nbgrader /
JupyterHub folder-per-student tree (already in the layout), and returns what it found.

File-name rules (the regexes below are the documentation):

- **Canvas** ("Download submissions"): ``<sortablename>_[LATE_]<userid>_<attachmentid>_<file>``,
  e.g. ``lovelaceada_LATE_1234_98765_02_transformer_anatomy-1.ipynb``. The sortable name may hold
  any letters (Canvas keeps accents: ``müllerjürgen``; anonymous downloads put ``anonymous`` or
  similar there); the student id is the numeric Canvas user id (in an anonymous download, the
  anonymous id that stands in its place); ``LATE`` marks a late submission; the second number
  is Canvas's attachment id (a later upload has a higher one) and ``-N`` before ``.ipynb`` is
  Canvas's resubmission counter: among several files the highest counter, then the highest
  attachment id, is the newest.
- **Moodle** ("Download all submissions"): ``<Full Name>_<participantid>_assignsubmission_file_``
  as a folder or a file-name prefix, e.g. ``Ada Lovelace_1234_assignsubmission_file_/02_transformer_anatomy.ipynb``.
- **Blackboard / nbgrader ``zip_collect``**: ``<assignment>_<studentid>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``;
  the timestamp orders several attempts.
- **Loose notebooks**: any name containing a chapter id from ``solutions/``; the rest of the
  name, separators trimmed, is the student id (underscores and all):
  ``ada_lovelace_02_transformer_anatomy.ipynb`` -> student ``ada_lovelace``. What file managers
  add to copies is dropped: ``Copy of ...``, `` (1)``, `` - Copy``.

The chapter is the chapter id found in the file's own name, else the ``chapter`` argument
(a zip downloaded from one LMS assignment). With ``chapter`` given, a notebook of another
chapter (by its name or its release stamp) is graded as that assignment's chapter, and the
summary and its grading notes say so. Several files for one student and chapter: the
newest is graded (by the LMS's timestamp, else the resubmission counter, else modification
time), and the summary says which.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?:(?P<late>LATE)_)?(?P<student>\d+)_(?P<attachment>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<student>\d+)_assignsubmission_file_(?P<file>.*)$")
BLACKBOARD = re.compile(
    r"^(?P<assignment>.+?)_(?P<student>[^_]+)_attempt_(?P<timestamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})_?(?P<file>.*)$"
)
RESUBMISSION = re.compile(r"-(\d+)\.ipynb$")
# What file managers and browsers add to a copied or re-downloaded file's name.
COPY_MARKS = re.compile(r"^(?:copy[ _-]of(?:[ _-]+|$))+|(?:[ _-]*\(\d+\))+$|[ _-]+copy(?:[ _-]\d+)?$", re.IGNORECASE)
META = ".submission.json"  # beside each collected notebook: where it came from, when, late or not


@dataclass
class Found:
    """One submitted notebook, matched to a student and a chapter."""

    student: str
    chapter: str
    path: Path
    lms: str  # canvas | moodle | blackboard | loose | folder
    original: str
    submitted_at: datetime | None = None  # from the LMS's name or nbgrader's timestamp.txt
    late_marker: bool = False
    order: tuple = ()  # sorts attempts: newest last
    note: str = ""  # e.g. a notebook of another chapter handed in for this assignment


@dataclass
class Collection:
    found: list[Found] = field(default_factory=list)  # the one graded per student and chapter
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    superseded: list[tuple[Found, Found]] = field(default_factory=list)  # (older, kept)

    def summary(self) -> str:
        students = sorted({f.student for f in self.found})
        chapters = sorted({f.chapter for f in self.found})
        lines = [
            f"found {len(self.found)} submissions: {len(students)} students, chapters {', '.join(chapters) or 'none'}"
        ]
        late = [f for f in self.found if f.late_marker]
        if late:
            lines.append(f"marked LATE by the LMS: {', '.join(f'{f.student}/{f.chapter}' for f in late)}")
        for found in self.found:
            if found.note:
                lines.append(f"{found.student}/{found.chapter}: {found.note}")
        for old, kept in self.superseded:
            lines.append(
                f"{kept.student}/{kept.chapter}: several submissions; graded {kept.original} (newer than "
                f"{old.original})"
            )
        for name, why in self.unmatched:
            lines.append(f"not matched: {name}: {why}")
        return "\n".join(lines)


def _chapter_in(name: str, chapters: list[str]) -> str | None:
    return next((c for c in sorted(chapters, key=len, reverse=True) if c in name), None)


def _timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC)


def match(relative: str, chapters: list[str], chapter: str | None, mtime: float) -> Found | str:
    """Match one file (its path inside the download) to a student and chapter, or say why not."""
    parts = relative.split("/")
    name = parts[-1]
    if not name.endswith(".ipynb"):
        return "not a notebook"
    modified = datetime.fromtimestamp(mtime, tz=UTC)
    counter = int(m.group(1)) if (m := RESUBMISSION.search(name)) else 0
    for lms, pattern, text in (
        ("moodle", MOODLE, parts[0] if len(parts) > 1 else name),
        ("canvas", CANVAS, name),
        ("blackboard", BLACKBOARD, name),
    ):
        m = pattern.match(text)
        if m is None:
            continue
        named = _chapter_in(name, chapters)
        found_chapter = chapter or named
        if found_chapter is None:
            return f"a {lms} file without a chapter id in its name: pass the chapter (--chapter)"
        stamp = _timestamp(m.group("timestamp")) if "timestamp" in m.groupdict() else None
        order: tuple  # Found.order
        if lms == "canvas":  # Canvas's own counter and attachment id first, then the file's time
            order = (counter, int(m.group("attachment")), modified)
        else:
            order = (stamp or modified, counter, 0)
        return Found(
            m.group("student"),
            found_chapter,
            Path(),
            lms,
            relative,
            stamp,
            late_marker=bool(m.groupdict().get("late")),
            order=order,
            note=_other_chapter(named, found_chapter),
        )
    named = _chapter_in(name, chapters)
    if named is None:
        return f"no chapter id ({', '.join(chapters)}) in the name"
    rest = name.removesuffix(".ipynb").replace(named, "", 1)
    rest = RESUBMISSION.sub("", rest + ".ipynb").removesuffix(".ipynb")
    student = _without_copy_marks(rest) or (_without_copy_marks(parts[-2]) if len(parts) > 1 else "")
    if not student:
        return "no student id in the name"
    found_chapter = chapter or named
    return Found(
        student,
        found_chapter,
        Path(),
        "loose",
        relative,
        None,
        order=(modified, counter, 0),
        note=_other_chapter(named, found_chapter),
    )


def _without_copy_marks(text: str) -> str:
    """A name without "Copy of", " (1)", " - Copy" and separators around it."""
    text = text.strip("_-. ")
    while (cleaner := COPY_MARKS.sub("", text).strip("_-. ")) != text:
        text = cleaner
    return text


def _other_chapter(named: str | None, assignment: str) -> str:
    if named and named != assignment:
        return f"a notebook of chapter {named} handed in for {assignment}: graded as {assignment}"
    return ""


def stamped_chapter(path: Path) -> str | None:
    """The chapter a notebook's release stamp names (``metadata.llmcourse.chapter``), if any.
    A value to compare, never a path."""
    try:
        stamp = json.loads(path.read_bytes()).get("metadata", {}).get("llmcourse", {}).get("chapter")
    except (OSError, ValueError, AttributeError):
        return None
    return stamp if isinstance(stamp, str) else None


def _files(source: Path) -> tuple[Path, list[tuple[str, Path, float]]]:
    """(folder, [(relative name, path, mtime)]) of a zip (extracted to a scratch folder) or a folder."""
    if source.is_file() and zipfile.is_zipfile(source):
        folder = Path(tempfile.mkdtemp(prefix="llmcourse-lms-"))
        with zipfile.ZipFile(source) as zf:
            entries = []
            for info in zf.infolist():
                if info.is_dir() or ".." in Path(info.filename).parts or info.filename.startswith("/"):
                    continue
                target = folder / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                entries.append((info.filename, target, datetime(*info.date_time, tzinfo=UTC).timestamp()))
        return folder, entries
    return source, [
        (p.relative_to(source).as_posix(), p, p.stat().st_mtime) for p in sorted(source.rglob("*")) if p.is_file()
    ]


def collect(source: Path, root: Path, chapters: list[str], chapter: str | None = None) -> Collection:
    """Copy the newest submission of each student and chapter found in ``source`` (an LMS zip
    or a folder of loose notebooks) to ``root/submitted/<student>/<chapter>/``. The source is only read."""
    result = Collection()
    _, files = _files(source)
    by_key: dict[tuple[str, str], list[Found]] = {}
    for relative, path, mtime in files:
        if relative.endswith(("/.DS_Store", "__MACOSX")) or "__MACOSX" in relative:
            continue
        outcome = match(relative, chapters, chapter, mtime)
        if isinstance(outcome, str):
            result.unmatched.append((relative, outcome))
            continue
        outcome.path = path
        stamped = stamped_chapter(path)
        if chapter and not outcome.note and stamped and stamped != outcome.chapter and stamped in chapters:
            outcome.note = _other_chapter(stamped, outcome.chapter)
        by_key.setdefault((outcome.student, outcome.chapter), []).append(outcome)
    for (student, chapter_id), attempts in sorted(by_key.items()):
        attempts.sort(key=lambda f: f.order)
        kept = attempts[-1]
        result.superseded += [(old, kept) for old in attempts[:-1]]
        folder = root / "submitted" / student / chapter_id
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{chapter_id}.ipynb"
        shutil.copyfile(kept.path, target)
        write_meta(folder, kept)
        kept.path = target
        result.found.append(kept)
    return result


def write_meta(folder: Path, found: Found) -> None:
    meta = {
        "lms": found.lms,
        "original": found.original,
        "submitted_at": found.submitted_at.isoformat() if found.submitted_at else None,
        "late_marker": found.late_marker,
        "note": found.note,
    }
    (folder / META).write_text(json.dumps(meta, indent=1))


def read_meta(folder: Path) -> dict:
    """What :func:`collect` recorded for a collected notebook, or nbgrader's ``timestamp.txt``."""
    meta = {"lms": "folder", "original": None, "submitted_at": None, "late_marker": False}
    if (folder / META).exists():
        meta.update(json.loads((folder / META).read_text()))
    elif (folder / "timestamp.txt").exists():  # nbgrader's exchange / JupyterHub collect
        text = (folder / "timestamp.txt").read_text().strip()
        # nbgrader writes "2026-10-08 10:00:00.000000 UTC"; ISO 8601 forms are read too.
        text = re.sub(r"\s*(UTC|GMT|Z)$", "+00:00", text)
        try:
            stamp = datetime.fromisoformat(text.replace(" ", "T", 1))
            meta["submitted_at"] = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).isoformat()
        except ValueError:
            pass
    return meta
