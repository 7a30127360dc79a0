# Everything runs inside .venv, created and filled on first use (see requirements/cpu.txt).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean-venv

$(STAMP): pyproject.toml requirements/cpu.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/cpu.txt
	touch $(STAMP)

## The main job: a short training demo on BackpropamineMaze-v0 that ends with a GIF and a learning-curve PNG.
demo: $(STAMP)
	$(VENV)/bin/backpropamine demo --run-dir runs/demo

## The linter (ruff, settings in pyproject.toml), then the whole test suite.
test: lint
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## Environment, cell and end-to-end benchmarks.
bench: $(STAMP)
	$(VENV)/bin/backpropamine bench

clean-venv:
	rm -rf $(VENV)
