# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test test-fast lint system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The default pipeline: synthetic data, both modes, results under artifacts/<run-id>/.
run: install
	$(BIN)/eagergraph run

# What the tests need beyond Python packages (a browser for the UI test, PostgreSQL for the server test).
system-deps:
	./.ci/system-deps

# --no-cache: a cached verdict on a file can hide an import-order change caused by moving another file.
# .ci/lint-imports: import-linter's contracts in pyproject.toml (the layers, no TensorFlow in the registry).
lint: install
	$(BIN)/ruff check --no-cache .
	$(BIN)/python .ci/lint-imports

# Three pytest-xdist workers, each test file whole on one of them (its shared runs happen once), in the files'
# order. More workers than cores, because many tests wait on a server or a subprocess: on 2 cores the suite took
# 22.5 min in one process, 18.6 min on two workers, 12-15.4 min on three (four: 14.6; 2026-11-30, before the docs
# tier; with it, 9.9 min on three workers on a quiet machine, 2026-12-07). Not `--dist
# loadgroup`: pytest-xdist 3.8 under pytest 9.2 ignored `xdist_group` marks here and split every file across workers
# (16.3 min).
TEST_WORKERS ?= 3
test: install system-deps lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The pure-core tier alone: no TensorFlow, no Prefect server, no eagergraph command (two tests start a small Python
# helper process to hold a lock; tests/model holds the TensorFlow tests).
test-fast: install
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache

# Benchmarks beside scikit-learn, Polars and DuckDB: the `bench` extra is installed for them only.
.PHONY: bench-quality bench-data
bench-quality: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/quality.py $(BENCH_ARGS)

bench-data: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/data_path.py $(BENCH_ARGS)
