# `make demo` runs the main job, `make test` the whole gate; both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow test-browser test-latex test-package test-notebooks docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dask,viz,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m runs demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sim mechanisms agents runs bench
	$(BIN)/python -m pytest -n auto

# the slow tests, then the property tests again with five times the examples
test-slow: $(STAMP)
	$(BIN)/python -m pytest -n auto -m slow
	$(BIN)/python -m pytest -n auto -m 'not slow and not browser' --hypothesis-profile=stress

# Debian's Chromium and chromedriver for the browser tests (as root, on a machine that
# has apt-get)
test-browser: $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	$(BIN)/python -m pytest -m browser

# pdflatex with booktabs (Debian's TeX Live, as root on a machine that has apt-get), then
# the test that compiles the summary's LaTeX tables into a document
test-latex: $(STAMP)
	command -v pdflatex >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends texlive-latex-base texlive-latex-recommended >/dev/null; }
	$(BIN)/python -m pytest tests/test_presentation.py -k latex -rs

# the wheel and the sdist built, and the wheel installed with its viz extra into a fresh
# virtual environment away from the checkout (downloads its dependencies)
test-package: $(STAMP)
	$(BIN)/python -m pytest -m package

# the notebooks of examples/, each run from top to bottom
test-notebooks: $(STAMP)
	$(BIN)/python -m pytest -n auto --nbmake examples

# the documentation site in docs/_build/html; a warning fails the build
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "site: docs/_build/html/index.html"

bench: $(STAMP)
	for f in solvers nse nse_scale extremes mechanisms audits multi_attack schedules behavioural simulation study; do $(BIN)/python -m bench.$$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache docs/_build docs/_generated build dist
