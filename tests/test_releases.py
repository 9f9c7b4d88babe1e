"""Releases by git tag: an earlier release's checks come from git (or a release wheel), not copies."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest

from llmcourse.grading.loading import checks_files, load_checks
from llmcourse.grading.releases import ReleaseChecks, ReleaseError, bumped, checks_version_of, commit_and_tag

ROOT = Path(__file__).resolve().parents[1]
from llmcourse.grading import ch02  # noqa: E402
from llmcourse.grading import cli as course  # noqa: E402

CH = "02_transformer_anatomy"
CHECKS, RUNNERS = f"llmcourse/grading/ch{CH[:2]}", f"llmcourse/grading/runners/ch{CH[:2]}.py"
CURRENT = checks_files(ROOT / CHECKS)  # the package's files: relative path -> bytes
FULL = sum(e.points for e in ch02.EXERCISES.values())  # chapter 02's full marks (both releases declare the same)
# A release whose checks expected positions to start at 1 (fixed in the next release).
FIX = (b"pos = torch.arange(P, dtype=torch.float64)", b"pos = torch.arange(1, P + 1, dtype=torch.float64)")
BUGGY = {name: content.replace(*FIX) for name, content in CURRENT.items()}
assert BUGGY != CURRENT


def _last_module() -> bytes:
    """Chapter 02's checks as the module ``chNN.py`` that releases before v0.4.0 kept, as the commit
    before the one that removed it held it (a stand-in where the clone has no history)."""
    run = {"capture_output": True, "text": True}
    removed = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%H", "--diff-filter=D", "--", f"{CHECKS}.py"], **run
    )
    shown = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{removed.stdout.strip()}^:{CHECKS}.py"], capture_output=True
    )
    return shown.stdout if removed.stdout.strip() and shown.returncode == 0 else b"EXERCISES = {}\n"


MODULE = _last_module()


def write_package(where: Path, files: dict[str, bytes]) -> None:
    """Make ``where`` hold exactly ``files`` (a release's package)."""
    if where.exists():
        subprocess.run(["rm", "-rf", str(where)], check=True)
    for name, content in files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_bytes(content)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    """A repository with releases of chapter 02's checks: v0.0.9 (a module, as releases before
    v0.4.0 were), v0.1.0 (a package, buggy) and v0.1.1 (the current package)."""
    repo = tmp_path / "repo"
    (repo / "llmcourse/grading/runners").mkdir(parents=True)
    git(repo, "init", "--quiet")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    (repo / RUNNERS).write_bytes((ROOT / RUNNERS).read_bytes())
    (repo / f"{CHECKS}.py").write_bytes(MODULE)
    commit_and_tag(repo, [f"{CHECKS}.py", RUNNERS], "v0.0.9", "Release v0.0.9")
    git(repo, "rm", "--quiet", f"{CHECKS}.py")
    git(repo, "commit", "--quiet", "-m", "chapter 02's checks become a package")
    for checks, tag in ((BUGGY, "v0.1.0"), (CURRENT, "v0.1.1")):
        write_package(repo / CHECKS, checks)
        commit_and_tag(repo, [CHECKS, RUNNERS], tag, f"Release {tag}")
    return repo


def version_of(checks: bytes | dict[str, bytes]) -> str:
    return checks_version_of(checks, (ROOT / RUNNERS).read_bytes())


def content_of(path: Path) -> bytes | dict[str, bytes]:
    """What ``find`` found: a package folder's files, or a module's bytes."""
    return checks_files(path) if path.is_dir() else path.read_bytes()


def test_bumped():
    assert [bumped("0.1.9", p) for p in ("patch", "minor", "major")] == ["0.1.10", "0.2.0", "1.0.0"]
    with pytest.raises(ValueError):
        bumped("0.1.0", "tiny")


def test_each_release_is_found_at_its_tag_and_then_in_the_cache(repo, tmp_path):
    releases = ReleaseChecks(repo, tmp_path / "cache")
    for checks, tag in ((MODULE, "v0.0.9"), (BUGGY, "v0.1.0"), (CURRENT, "v0.1.1")):
        path, where = releases.find(CH, version_of(checks), tag)
        assert content_of(path) == checks and where == f"tag {tag}"
        path, where = releases.find(CH, version_of(checks), tag)
        assert content_of(path) == checks and where == "cache"
    # The stamp's tag is a hint, not a trust: a wrong one still finds the release by its version.
    path, _ = ReleaseChecks(repo, tmp_path / "other").find(CH, version_of(BUGGY), "v0.1.1")
    assert content_of(path) == BUGGY


def test_a_release_whose_tag_is_gone_is_found_in_the_commits_that_changed_the_checks(repo, tmp_path):
    """A clone without its tags (or a tag never pushed) still grades each release by its checks:
    the commits that changed the chapter's checks or runners hold them."""
    for tag in ("v0.0.9", "v0.1.0", "v0.1.1"):
        git(repo, "tag", "-d", tag)
    releases = ReleaseChecks(repo, tmp_path / "cache")
    for checks, tag in ((MODULE, "v0.0.9"), (BUGGY, "v0.1.0"), (CURRENT, "v0.1.1")):
        path, where = releases.find(CH, version_of(checks), tag)
        assert path is not None and content_of(path) == checks and where.startswith("commit "), where
    assert releases.find(CH, "0" * 12)[0] is None


def test_a_release_package_loads_its_own_modules(repo, tmp_path):
    """A package release's modules import each other relatively: loaded from the cache under
    another name, the buggy release's exercise uses its own (buggy) oracle, not today's."""
    path, _ = ReleaseChecks(repo, tmp_path / "cache").find(CH, version_of(BUGGY), "v0.1.0")
    old = load_checks(f"file:{path}")
    buggy, current = old.EXERCISES["positional_encoding"], ch02.EXERCISES["positional_encoding"]
    assert buggy.cases.__module__.startswith(old.__name__ + ".")
    assert [repr(c.expected) for c in buggy.cases(False)] != [repr(c.expected) for c in current.cases(False)]
    module = load_checks(f"file:{ReleaseChecks(repo, tmp_path / 'cache').find(CH, version_of(MODULE))[0]}")
    assert list(module.EXERCISES) in ([], list(ch02.EXERCISES))  # v0.3.0's module still loads


def test_stamps_are_values_never_paths_or_commands(repo, tmp_path):
    releases = ReleaseChecks(repo, tmp_path / "cache")
    for version, tag in (
        ("../../etc/passwd", None),
        (version_of(BUGGY) + "0", None),
        ({"a": 1}, None),
        ("0" * 12, "v0.1.0"),
        (version_of(BUGGY), "v0.1.0; touch /tmp/pwned"),
    ):
        path, why = releases.find(CH, version, tag)
        assert (path is None) == (version != version_of(BUGGY)), (version, tag, why)
    assert releases.find("../02_transformer_anatomy", version_of(BUGGY))[0] is None


def test_a_release_copied_before_the_tags_is_found_in_git_history(tmp_path):
    """The copies under autograde/releases/ that earlier releases made are in the history."""
    repo = tmp_path / "old"
    old = repo / "autograde/releases" / CH / f"{version_of(MODULE)}.py"
    old.parent.mkdir(parents=True)
    git(repo, "init", "--quiet")
    old.write_bytes(MODULE)
    git(repo, "add", ".")
    git(repo, "-c", "user.email=t@e", "-c", "user.name=t", "commit", "--quiet", "-m", "snapshot")
    git(repo, "rm", "--quiet", "-r", "autograde")
    git(repo, "-c", "user.email=t@e", "-c", "user.name=t", "commit", "--quiet", "-m", "copies go away")
    path, where = ReleaseChecks(repo, tmp_path / "cache").find(CH, version_of(MODULE))
    assert path.read_bytes() == MODULE and where.startswith("commit ")


def test_outside_git_a_release_wheel_serves(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "llmcourse-0.1.0-py3-none-any.whl", "w") as wheel:
        for name, content in BUGGY.items():
            wheel.writestr(f"{CHECKS}/{name}", content)
        wheel.writestr(RUNNERS, (ROOT / RUNNERS).read_bytes())
    with zipfile.ZipFile(wheels / "llmcourse-0.0.9-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{CHECKS}.py", MODULE)
        wheel.writestr(RUNNERS, (ROOT / RUNNERS).read_bytes())
    (wheels / "broken.whl").write_text("not a zip")
    releases = ReleaseChecks(tmp_path / "no-repo", tmp_path / "cache", wheels)
    path, where = releases.find(CH, version_of(BUGGY))
    assert content_of(path) == BUGGY and where == "wheel llmcourse-0.1.0-py3-none-any.whl"
    path, where = releases.find(CH, version_of(MODULE))
    assert path.read_bytes() == MODULE and where == "wheel llmcourse-0.0.9-py3-none-any.whl"
    assert releases.find(CH, "0" * 12)[0] is None


def test_commit_and_tag_commits_only_the_release_and_never_moves_a_tag(repo):
    (repo / "unrelated.txt").write_text("work in progress")
    git(repo, "add", "unrelated.txt")
    (repo / "chapter.ipynb").write_text("{}")
    commit_and_tag(repo, ["chapter.ipynb"], "v0.2.0", "Release v0.2.0")
    assert git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", "v0.2.0^{commit}").split() == ["chapter.ipynb"]
    assert "A  unrelated.txt" in git(repo, "status", "--porcelain")  # still staged, not released
    with pytest.raises(ReleaseError, match="exists already"):
        commit_and_tag(repo, ["chapter.ipynb"], "v0.2.0", "again")
    with pytest.raises(ReleaseError, match="v<major>"):
        commit_and_tag(repo, ["chapter.ipynb"], "latest", "x")


def test_two_releases_each_grade_with_their_own_checks(repo, tmp_path, monkeypatch):
    """A submission of v0.1.0 (whose checks wanted positions from 1) keeps its points; one of the
    current release is graded with the current checks; --regrade-with-latest uses the current ones."""
    from test_instructor import SOLUTION, make_course

    monkeypatch.setattr(course, "RELEASES", ReleaseChecks(repo, tmp_path / "cache"))
    root = make_course(tmp_path)
    nb = nbformat.reads(SOLUTION, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "positional_encoding")
    cell.source = cell.source.replace(
        "torch.arange(num_positions, dtype=torch.float32)", "torch.arange(1, num_positions + 1, dtype=torch.float32)"
    )
    for student, notebook, checks, tag in (
        ("early", nb, BUGGY, "v0.1.0"),
        ("late", nbformat.reads(SOLUTION, as_version=4), CURRENT, "v0.1.1"),
    ):
        notebook.metadata["llmcourse"] = {"chapter": CH, "version": version_of(checks), "release": tag}
        folder = root / "submitted" / student / CH
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{CH}.ipynb")
    early, late = sorted(course.grade(root, progress=False), key=lambda r: r.student)
    assert early.score == FULL and any(f"release {version_of(BUGGY)}" in n for n in early.notes)
    assert late.score == FULL and late.checks == f"llmcourse.grading.ch{CH[:2]}"
    page = (root / "class_report.html").read_text()
    assert (
        f"1 graded with the checks of release {version_of(BUGGY)}" in page
        and "1 graded with the current checks" in page
    )
    latest = course.grade(root, progress=False, students=["early"], regrade_with_latest=True)
    assert [r.score < FULL for r in latest if r.student == "early"] == [True]
    again = course.grade(root, progress=False)  # a later plain run keeps the instructor's choice
    assert [r.score < FULL for r in again if r.student == "early"] == [True]


@pytest.mark.parametrize("chapter", course.chapter_names())
def test_every_stamp_in_chapters_resolves_and_matches_its_set_up_cell(chapter):
    """Each student edition names its release's tag, which its set-up cell installs, and a checks
    version that is the current one or found in git (an edition older than its checks)."""
    nb = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
    stamp = nb.metadata["llmcourse"]
    assert stamp["chapter"] == chapter and stamp["release"] == course.course_release()
    set_up = next(c for c in nb.cells if c.cell_type == "code").source
    assert f'@{stamp["release"]}"' in set_up
    if stamp["version"] != course.checks_version(chapter):
        path, where = course.RELEASES.find(chapter, stamp["version"], stamp["release"])
        assert path is not None, f"{chapter}'s stamp {stamp} names checks that are neither current nor in git: {where}"


def test_bump_version_moves_pyproject_and_the_citation_together(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "llmcourse"\nversion = "0.3.9"\n\n[tool.x]\nversion = "keep"\n'
    )
    (tmp_path / "CITATION.cff").write_text('cff-version: 1.2.0\nversion: "0.3.9"\n')
    monkeypatch.setattr(course, "PROJECT", tmp_path)
    assert course.bump_version("patch") == "0.3.10" and course.course_release() == "v0.3.10"
    assert 'version = "keep"' in (tmp_path / "pyproject.toml").read_text()
    assert 'version: "0.3.10"' in (tmp_path / "CITATION.cff").read_text()


def test_a_release_is_refused_while_the_checks_are_uncommitted(monkeypatch, capsys):
    monkeypatch.setattr(course, "uncommitted", lambda repo, paths: ["llmcourse/grading/ch02/attention.py"])
    monkeypatch.setattr(course, "bump_version", lambda part: pytest.fail("bumped the version"))
    assert course.main(["release"]) == 2
    assert "commit these first" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        course.main(["release", CH])  # a tagged release releases every chapter
