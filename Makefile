# The course's commands. `make book` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
# Never reach for the Hugging Face Hub unless a notebook explicitly asks for an online model.
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: help setup system-packages mathjax book book-instructor test test-fast lint release release-draft grade demo-submissions mutants bench bench-grade lab lab-instructor clean

help:
	@echo "make book              build the book into _build/html (sets up .venv first)"
	@echo "make book-instructor   build the instructor edition (solutions, hidden tests) into _build/instructor/html"
	@echo "make test              run every test (sets up .venv first)"
	@echo "make test-fast         the inner loop: every test but the slow, book, browser, postgres and notebook ones, in parallel"
	@echo "make lint              ruff (lint and format check) on the Python code, mypy on llmcourse/grading/"
	@echo "make release           a release: bump the version (BUMP=minor), write chapters/, commit, tag v<version>"
	@echo "make release-draft     regenerate the student notebooks chapters/ from solutions/ (nothing committed)"
	@echo "make grade             grade autograde/submitted/<student>/<chapter>/ (ARGS='--timeout 30 --memory 4')"
	@echo "make demo-submissions  example submissions to try 'make grade' on"
	@echo "make mutants           grade every catalogued mistake and alternative; fails on a miss"
	@echo "make bench             every benchmark, one table of ratios, written to the book's Performance page"
	@echo "make bench-grade       submissions per minute: the course's grader vs nbgrader autograde"
	@echo "make lab               JupyterLab as students get it, on your copies of the notebooks in my-work/"
	@echo "make lab-instructor    JupyterLab with nbgrader's instructor panes, on solutions/"

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# MathJax 3 is served by the book itself: fetched once from the npm registry into book/vendor/.
mathjax:
	$(PYTHON) book/install_mathjax.py

book: setup mathjax
	$(BIN)/python book/build.py -W --keep-going --all .
	@echo "open _build/html/index.html"

# Solutions and hidden tests shown; executions cached in _build/instructor/.jupyter_cache.
book-instructor: setup mathjax
	$(BIN)/python book/instructor.py --out _build/instructor

# One process by default: on 2 cores, two workers (TEST_WORKERS=2) were slower (pytest 1,700 s
# against 1,530 s), the chapters' torch threads fighting over the cores. With more cores,
# TEST_WORKERS=N runs a test file to a worker, the longest files first (tests/conftest.py).
TEST_WORKERS ?= 0
test: setup system-packages mathjax
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The markers are set in tests/conftest.py by what a test needs; `make test` runs them all.
# --dist loadfile: a module's tests share one worker, so its module fixtures are set up once.
test-fast: setup
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not (slow or book or browser or postgres or notebooks)"

# The settings are pyproject.toml's ([tool.ruff], [tool.mypy]).
LINT_PATHS := llmcourse tests bench autograde/*.py lab book
lint: setup
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

system-packages:
	@bash .ci/system-packages

# A release: bump the version (BUMP=patch|minor|major), write chapters/, commit them, tag v<version>.
BUMP ?= patch
release: setup
	$(BIN)/python autograde/course.py release --bump $(BUMP)

# While working on a release: rewrite chapters/ from solutions/, nothing bumped, committed or tagged.
release-draft: setup
	$(BIN)/python autograde/course.py release --no-tag

grade: setup
	$(BIN)/python autograde/course.py grade $(ARGS)

mutants: setup
	$(BIN)/python autograde/course.py mutants

# Every benchmark against its peer, in one run (20-30 min on 2 cores): prints the table and
# rewrites performance.md + bench/results/ (commit them). ARGS="--quick" for a smoke test.
bench: setup mathjax
	$(BIN)/python bench/report.py $(ARGS)

bench-grade: setup
	$(BIN)/python bench/grade.py $(ARGS)

demo-submissions: setup
	$(BIN)/python autograde/course.py demo-submissions

# The student configuration (lab/student/: no nbgrader panes, nothing fetched) on copies of the
# notebooks in my-work/ (made once, never overwritten; FOLDER=... for another place).
lab: setup
	$(BIN)/python lab/launch.py $(FOLDER)

# nbgrader's Formgrader and Create Assignment panes, on the single source of every chapter.
lab-instructor: setup
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) solutions/

clean:
	rm -rf _build autograde/release autograde/source autograde/autograded autograde/feedback autograde/gradebook.db autograde/grades.csv
