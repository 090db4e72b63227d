# Two commands do all the set-up: `make demo` and `make test`. Each builds its own venv.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs bench clean services

$(STAMP): pyproject.toml $(wildcard policies/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test,demo,sim,dev,docs,bench]' $(if $(wildcard policies/pyproject.toml),-e ./policies)
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python -m zarr_cachestore.demo $(ARGS)

test: $(STAMP) services
	$(VENV)/bin/python -m pytest $(ARGS)

services:
	bash scripts/services.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks $(wildcard policies)
	$(VENV)/bin/ruff format --check src tests benchmarks $(wildcard policies)
	$(VENV)/bin/mypy

# The benchmark suite, run by hand (never by CI): a table of ratios for zarr 3.1.x on this
# venv, then one for the newest zarr on .venv-newest, built with the newest Python 3.12+ that
# pyenv has (as .ci/run finds it). The `bench` extra is in every venv. ARGS go to
# `python -m benchmarks.suite` (`make bench ARGS=--help`).
NEWEST_PYTHON = $(shell command -v pyenv >/dev/null 2>&1 && for v in 3.13 3.12; do \
	ls -d "$$(pyenv root)"/versions/$$v.*/bin/python 2>/dev/null | sort -V | tail -n 1; done | head -n 1)

bench: $(STAMP)
	@runs=$$(mktemp -d) && \
	$(VENV)/bin/python -m benchmarks.suite --save $$runs/1.json $(ARGS) && \
	if [ -n "$(NEWEST_PYTHON)" ]; then \
		$(MAKE) --no-print-directory .venv-newest/.installed VENV=.venv-newest PYTHON="$(NEWEST_PYTHON)"; fi && \
	if [ -x .venv-newest/bin/python ]; then .venv-newest/bin/python -m benchmarks.suite --save $$runs/2.json $(ARGS); \
	else echo "no Python 3.12+ through pyenv and no .venv-newest: skipped the newest zarr"; fi && \
	echo && echo "### Side by side" && echo && \
	$(VENV)/bin/python -m benchmarks.suite --compare $$runs/*.json; rm -rf $$runs

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf .venv .venv-* demo-data site
