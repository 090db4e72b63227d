# Two commands do all the set-up: `make demo` and `make test`. Each builds its own venv.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean services

$(STAMP): pyproject.toml $(wildcard policies/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test,demo,sim,dev]' $(if $(wildcard policies/pyproject.toml),-e ./policies)
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

clean:
	rm -rf .venv .venv-* demo-data
