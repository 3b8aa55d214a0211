# gradnotes: `make docs` builds the site, `make test` runs every notebook and test.
# Each target sets itself up from nothing: it creates .venv when absent and installs into it.
# `make docs-check` builds the site and renders every page in headless Chromium (docs/site_check.py);
# `make test` runs it too when Chromium is installed. `make lab` opens the notebooks in JupyterLab.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.gradnotes-installed
PYTEST_ARGS ?=

.PHONY: all docs test bench install export clean-check clean docs-check browser-check lab board

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
	@# The official GBNN code (a cross-check peer) declares dependencies that do not install here;
	@# its algorithm needs only numpy and scikit-learn, so it comes without them.
	$(PY) -m pip install --quiet --no-deps gbnn==0.0.2
	@# A peer (backpack-for-pytorch) pulls torchvision from PyPI, built for another torch than a CPU
	@# wheel: its compiled ops fail at import and break `from diffusers import UNet2DModel`.
	@# Nothing here needs torchvision, so a torchvision that does not load is removed.
	@$(PY) -c "import torchvision" 2>/dev/null || { $(PY) -m pip show --quiet torchvision 2>/dev/null \
		&& $(PY) -m pip uninstall --quiet --yes torchvision || true; }
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
	@$(MAKE) --no-print-directory browser-check

# The site is rebuilt only when a notebook, the docs' code or settings changed since the last
# build (so `make test` then `make docs`, as CI runs them, builds it once).
DOCS_STAMP := docs/_build/html/.gradnotes-built
DOCS_INPUTS := $(wildcard nbs/*.ipynb nbs/*.png nbs/*.svg docs/*.py docs/*.tsv docs/_static/*) settings.ini

docs: $(DOCS_STAMP)
	@echo "docs: $(CURDIR)/docs/_build/html/index.html"

$(DOCS_STAMP): $(DOCS_INPUTS) | export
	$(PY) docs/build.py
	@touch $@

docs-check: docs
	$(PY) docs/site_check.py

# docs-check when Chromium is installed; otherwise one line saying it was skipped.
browser-check: $(STAMP)
	@if $(PY) docs/site_check.py --find-browser >/dev/null; then $(MAKE) --no-print-directory docs-check; \
	else echo "docs-check: skipped: Chromium is not installed (apt-get install -y chromium)"; fi

# Regenerate the verdict board (README and nbs/index.ipynb) from the method notebooks.
board: $(STAMP)
	$(PY) docs/board.py

# JupyterLab on nbs/, with this venv registered as the notebooks' kernel ("python3" inside it).
lab: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name python3
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=nbs $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

bench: export
	$(PY) bench/run.py

clean:
	rm -rf _proc _docs docs/_build docs/_src
