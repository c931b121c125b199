# `make run` and `make test` each bootstrap .venv by themselves on a fresh clone.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test lint typecheck bench env-example clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: venv
	$(BIN)/signalbot run --samples

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

bench: venv
	$(BIN)/python bench/parse_render.py

# deploy/signalbot.env.example is generated from the settings class (tests/test_deploy.py checks)
env-example: venv
	$(BIN)/python -m bot.envfile > deploy/signalbot.env.example

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
