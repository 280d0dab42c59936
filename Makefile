# Every target installs what it needs into .venv first, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
# checkov pins a boto3 older than the one sosw is tested with, so it lives in a venv of its own (inside .venv, so that
# `make clean` removes it and git ignores it). It reads the templates only: examples/ and the Worker template of
# `sosw init`; --skip-download keeps it offline.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION := 3.3.30
CHECK_TEMPLATES = $(CHECKOV) --quiet --compact --skip-download --framework cloudformation \
	$(addprefix -f ,$(shell find examples sosw/_templates/worker -name '*.yaml' | sort))

.PHONY: install demo test unit integration lint checkov docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.py
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(CHECKOV): | $(BIN)/python
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'

demo: $(STAMP)
	$(BIN)/sosw demo

test: $(STAMP) $(CHECKOV)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(CHECK_TEMPLATES)
	@# pytest exits 5 when it collected nothing: a suite that runs no test is a failure here.
	$(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

checkov: $(CHECKOV)
	$(CHECK_TEMPLATES)

docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -n -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/lifecycle.py --tasks 1000
	$(BIN)/python benchmarks/scheduler.py --tasks 10000

clean:
	rm -rf $(VENV) docs/_build build dist *.egg-info .pytest_cache .ruff_cache
