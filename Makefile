# gradnotes: `make docs` builds the site, `make test` runs every notebook and test.
# Each target sets itself up from nothing: it creates .venv when absent and installs into it.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.gradnotes-installed
PYTEST_ARGS ?=

.PHONY: all docs test bench install export clean-check clean

all: test

# torch first: the pinned 2.13.0 is a CPU build on these machines; an unpinned torch
# would pull a multi-GB CUDA build. A torch already in the venv is kept.
$(STAMP): settings.ini setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(STAMP)

export: $(STAMP)
	$(VENV)/bin/nbdev_export

# Fails when the notebooks are not clean or the package is out of sync with them.
clean-check: $(STAMP)
	$(VENV)/bin/nbdev_clean
	$(VENV)/bin/nbdev_export
	@if [ -n "$$(git status --porcelain -- nbs gradnotes)" ]; then \
		echo "nbdev_clean or nbdev_export changed files; run them and commit:"; \
		git status --porcelain -- nbs gradnotes; exit 1; fi

test: clean-check
	MPLBACKEND=Agg $(PY) -m pytest $(PYTEST_ARGS)

docs: export
	$(PY) docs/build.py

bench: export
	$(PY) bench/run.py

clean:
	rm -rf _proc _docs docs/_build docs/_src
