# lensflow — every target is one line; the scripts and the CLI do the work.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export LENSFLOW_HOME ?= $(CURDIR)/.lensflow

.PHONY: help install run serve test test-fast lint format bench bench-quality tune monitor up down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install: $(VENV)/.installed ## create .venv and install lensflow with its dev extras

$(VENV)/.installed: pyproject.toml scripts/install.sh
	@bash scripts/install.sh $(VENV) && touch $@

run: install ## data -> train -> evaluate -> register -> promote -> load -> serve on 127.0.0.1:8000
	$(VENV)/bin/lensflow pipeline && $(VENV)/bin/lensflow serve

serve: install ## serve the current champion
	$(VENV)/bin/lensflow serve

test: install ## the whole suite against real services (embedded Postgres+pgvector, MLflow, Prometheus, Chromium)
	$(PY) -m pytest tests

test-fast: install ## everything except slow and browser tests
	$(PY) -m pytest tests -m "not slow and not browser"

lint: install ## ruff lint + format check and mypy
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

format: install ## apply ruff formatting and fixes
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: install ## latency, throughput, ingestion and pipeline benchmarks -> bench/results/
	$(PY) -m bench.run

bench-quality: install ## model-quality table over 5 seeds -> bench/results/quality.*
	$(VENV)/bin/lensflow evaluate --report

tune: install ## one Optuna study -> tuning/best_params.json (MODEL=softmax-mf|sasrec|rating-head TRIALS=30)
	$(PY) -m lensflow.quality.tuning $(or $(MODEL),softmax-mf) --trials $(or $(TRIALS),30) --seeds 5

monitor: install ## a local Prometheus scraping the local API with the repo's rules
	bash scripts/monitor.sh

up: ## the Docker Compose stack (postgres, mlflow, trainer, api, prometheus, grafana)
	docker compose up -d --build

down: ## stop the Compose stack
	docker compose down

clean: ## remove local state (embedded Postgres, MLflow store, downloads)
	rm -rf .lensflow
