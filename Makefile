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

# torch first, pinned: a range would let pip pick the newest release, which on PyPI is a
# multi-GB CUDA build. A torch already in the venv (CPU or CUDA, the user's choice) is kept.
$(STAMP): settings.ini setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==2.13.0
	@# Peer libraries used by the cross-checks (backpack, pyhessian, ...) may ask for a newer torch:
	@# the torch already installed is held fixed while they resolve.
	$(PY) -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/torch-constraint.txt
	$(PY) -m pip install --quiet -e ".[dev]" -c $(VENV)/torch-constraint.txt
	@touch $@

install: $(STAMP)

export: $(STAMP)
	$(VENV)/bin/nbdev_export

# Fails when nbdev_clean or nbdev_export change anything: notebooks not clean, or the package
# out of sync with them. Edits already in the working tree are compared before and after.
clean-check: $(STAMP)
	@before=$$(git status --porcelain -- nbs gradnotes; git diff -- nbs gradnotes | sha1sum); \
	$(VENV)/bin/nbdev_clean && $(VENV)/bin/nbdev_export || exit 1; \
	after=$$(git status --porcelain -- nbs gradnotes; git diff -- nbs gradnotes | sha1sum); \
	if [ "$$before" != "$$after" ]; then \
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
