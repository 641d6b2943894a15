# Everyday commands over uv. `make demo` and `make test` do all setup on a fresh machine
# with Python 3.11+: they install uv with pip when it is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# Re-evaluated at each use, so a uv installed by `ensure-uv` is found (on PATH or as a module).
UV = $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTHON ?= python3

.PHONY: help ensure-uv sync demo test lint format

help:
	@echo "make demo    demo cache + teacher pipeline + held-out results and report.html (all setup included)"
	@echo "make test    run every test (all setup included)"
	@echo "make lint    ruff check + format check"

ensure-uv:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
	  { echo "installing uv with pip"; $(PYTHON) -m pip install --quiet --user uv 2>/dev/null || \
	    $(PYTHON) -m pip install --quiet --user --break-system-packages uv 2>/dev/null || \
	    $(PYTHON) -m pip install --quiet uv; }

# --compile-bytecode: where Python may not write .pyc files (PYTHONDONTWRITEBYTECODE, as
# on the machines here, or a venv on a read-only or shared cluster file system) every
# process compiled torch's and PyG's sources again: 23.7 s of imports per stage process
# on a 2-core EPYC, 9.2 s compiled (benchmarks/startup_bytecode.py). Once per install
# (46 s there); later syncs only check.
sync: ensure-uv
	$(UV) sync --locked --compile-bytecode

# The main job: the demo cache, then the teacher pipeline with the local executor (one W&B
# run per stage, offline without WANDB_API_KEY), the held-out results table, and last the
# path of the run's report.html (written by the evaluate stage; canids-report only checks
# that it is up to date and prints where it is).
demo: sync
	$(UV) run canids-cache build --dataset demo
	$(UV) run canids-cache verify --dataset demo --full
	$(UV) run canids-submit pipeline teacher --dataset demo --executor local
	$(UV) run canids-report --dataset demo --size teacher

# PYTEST_ARGS narrows the run (CI passes -m slow: it ran every other test just before).
test: sync
	$(UV) run pytest $(PYTEST_ARGS)

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: sync
	$(UV) run ruff format .
	$(UV) run ruff check --fix .
