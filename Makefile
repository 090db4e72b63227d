# Two commands do all the set-up: `make demo` and `make test`. Each builds its own venv.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs bench clean services

$(STAMP): pyproject.toml $(wildcard policies/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test,demo,sim,dev,docs]' $(if $(wildcard policies/pyproject.toml),-e ./policies)
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python -m zarr_cachestore.demo $(ARGS)

test: $(STAMP) services
	$(VENV)/bin/python -m pytest $(ARGS)

services:
	bash scripts/services.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests $(wildcard policies)
	$(VENV)/bin/ruff format --check src tests $(wildcard policies)
	$(VENV)/bin/mypy

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf .venv .venv-* demo-data site
