# The two commands: `make serve` runs the gateway, `make test` runs the whole test suite.
# Both set up what they need on a fresh machine (a virtualenv in .venv) and nothing else.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ORQ41  := .deps/orq41

.PHONY: serve test lint install clean

# The package's bytecode is written first, as `pip install` does for an installed package: an
# editable install leaves it to the first import, which cannot write it everywhere (a read-only
# tree, PYTHONDONTWRITEBYTECODE), and then every start compiles the whole package again.
serve: $(STAMP)
	$(BIN)/python -m compileall -q src
	$(BIN)/waystation serve

test: $(STAMP) $(ORQ41)/.installed
	$(BIN)/python -m pytest -q -n auto

# The benchmark scripts are type-checked too, apart from the package (they are scripts, not
# modules of it), the retrieval benchmark on its own: both folders have a `run.py`.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/mypy bench/*.py
	$(BIN)/mypy bench/retrieval/*.py

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m compileall -q src
	touch $@

# The 4.1 generation of orq-ai-sdk (the one that calls /v2/gateway) lives beside the current
# one, in its own folder, for the compatibility test that runs it in a separate interpreter.
$(ORQ41)/.installed: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --upgrade \
		--target $(ORQ41) 'orq-ai-sdk==4.1.3'
	touch $@

clean:
	rm -rf $(VENV) .deps .pytest_cache .mypy_cache .ruff_cache
