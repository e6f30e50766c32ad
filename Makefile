# Quick start: `make demo` and `make test`. Everything installs into .venv from requirements.lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test explore test-db lint check bench bench-smoke lock peers clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/qbo-backfill demo

# Peer clients (python-quickbooks with intuit-oauth) live in their own environment;
# the compatibility tests run them there against the local sandbox.
PEERS := .venv-peers
$(PEERS)/.installed: requirements-peers.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install -q -r requirements-peers.txt
	touch $@

peers: $(PEERS)/.installed

# Property tests run derandomized in `make test` (the same examples every run);
# `make explore` lets Hypothesis search at random for new failing examples.
PROPERTY_TESTS := tests/reliability/test_bad_input.py tests/reliability/test_injection.py \
	tests/sandbox/test_query_endpoint.py

test: install peers
	$(BIN)/pytest

explore: install
	$(BIN)/pytest --hypothesis-profile=explore $(PROPERTY_TESTS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

check: lint test

bench: install
	$(BIN)/python -m bench

bench-smoke: install
	$(BIN)/python -m bench --smoke

# Re-resolve the lock from pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) $(PEERS) .qbo-backfill .pytest_cache .mypy_cache .ruff_cache
