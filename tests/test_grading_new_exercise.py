"""Adding an exercise means copying one module (llmcourse/grading/README.md): a copy of chapter 01's
``tfidf.py`` and its mistakes' folder, under a new key, joins the chapter's ``EXERCISES`` with one
import line, and the contract's rules hold for it as for every exercise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.contract import GradingError, check, load_qualname, mistake_answer
from llmcourse.grading.loading import checks_digest, checks_files, load_checks

GRADING = Path(__file__).resolve().parents[1] / "llmcourse" / "grading"


@pytest.fixture
def chapter_copy(tmp_path: Path) -> Path:
    """Chapter 01's package with a third exercise, ``tfidf_again``, made by copying ``tfidf.py``."""
    package = tmp_path / "ch01_copy"
    shutil.copytree(GRADING / "ch01", package, ignore=shutil.ignore_patterns("__pycache__"))
    module = (package / "tfidf.py").read_text()
    module = module.replace("TFIDF = Exercise(", "TFIDF_AGAIN = Exercise(").replace(
        "check(TFIDF,", "check(TFIDF_AGAIN,"
    )
    module = module.replace('test_cell="tfidf_tests"', 'test_cell="tfidf_again_tests"')
    module = module.replace("def check_tfidf(", "def check_tfidf_again(")
    (package / "tfidf_again.py").write_text(module)
    shutil.copytree(package / "mistakes" / "tfidf", package / "mistakes" / "tfidf_again")
    init = (package / "__init__.py").read_text()
    init = init.replace(
        "from .tfidf import TFIDF, check_tfidf\n",
        "from .tfidf import TFIDF, check_tfidf\nfrom .tfidf_again import TFIDF_AGAIN, check_tfidf_again\n",
    )
    init = init.replace('    "tfidf": TFIDF,\n', '    "tfidf": TFIDF,\n    "tfidf_again": TFIDF_AGAIN,\n')
    (package / "__init__.py").write_text(init)
    return package


def test_a_copied_module_is_a_new_exercise_that_follows_the_contract(chapter_copy: Path) -> None:
    chapter = load_checks(f"file:{chapter_copy}")
    assert list(chapter.EXERCISES) == ["bag_of_words", "tfidf", "tfidf_again"]
    exercise = chapter.EXERCISES["tfidf_again"]
    # the copy's own modules, not today's package: its relative imports resolved inside the copy
    assert exercise.cases.__module__.startswith(chapter.__name__ + ".")
    assert [m.id for m in exercise.mistakes] == [m.id for m in chapter.EXERCISES["tfidf"].mistakes]
    # the rules test_grading_contract.py holds every exercise to
    visible = {c.subcheck for c in exercise.cases(False)}
    assert visible == {s.id for s in exercise.subchecks} == {c.subcheck for c in exercise.cases(True)}
    assert len(exercise.mistakes) >= 5
    stand_ins = {name: load_qualname(target) for name, target in exercise.depends.items()}
    for code in alternatives_of("01_history")["tfidf"]:
        namespace = dict(stand_ins)
        exec(code, namespace)
        check(exercise, namespace["tfidf"], hidden=False, quiet=True)
    for mistake in exercise.mistakes:
        with pytest.raises(GradingError):
            check(exercise, mistake_answer(exercise, mistake), hidden=False, quiet=True)


def test_the_catalogue_and_its_files_must_agree(chapter_copy: Path) -> None:
    (chapter_copy / "mistakes" / "tfidf_again" / "forgotten.py").write_text('"""Not in MISTAKES."""\n\nx = 1\n')
    with pytest.raises(ValueError, match="forgotten"):
        load_checks(f"file:{chapter_copy}")


def test_a_new_module_or_mistake_changes_the_checks_version(chapter_copy: Path) -> None:
    """The version a notebook is stamped with covers every file of the package."""
    original = checks_digest(checks_files(GRADING / "ch01"), None)
    (chapter_copy / "tfidf_again.py").unlink(missing_ok=True)
    assert checks_digest(checks_files(chapter_copy), None) != original  # the mistakes' folder is still there
    shutil.rmtree(chapter_copy / "mistakes" / "tfidf_again")
    (chapter_copy / "__init__.py").write_bytes((GRADING / "ch01" / "__init__.py").read_bytes())
    assert checks_digest(checks_files(chapter_copy), None) == original
