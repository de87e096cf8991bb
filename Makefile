# Two entry points for a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build: an unpinned torch pulls several GB of CUDA packages.
TORCH := torch==2.13.0

.PHONY: demo test test-gpu-paths lint typecheck bench venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

venv: $(BIN)/python

demo: venv
	$(BIN)/pip install -q $(TORCH) -e ".[train]"
	$(BIN)/python -m cvlayers.train --compare $(ARGS)

test: venv
	$(BIN)/pip install -q $(TORCH) -e ".[dev,train]"
	$(MAKE) lint typecheck
	$(BIN)/python -m pytest $(ARGS)

# The suite through a GPU's code paths on this CPU (tests/conftest.py): the compiled maths,
# then the eager one. Not part of `make test`: the first run compiles for minutes.
test-gpu-paths: venv
	$(BIN)/pip install -q $(TORCH) -e ".[dev,train]"
	CVLAYERS_NATIVE=0 CVLAYERS_GPU_PATH=compiled $(BIN)/python -m pytest -q $(ARGS)
	CVLAYERS_NATIVE=0 CVLAYERS_GPU_PATH=eager $(BIN)/python -m pytest -q $(ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow setuptools' editable package-dir mapping, so it checks a copy laid out
# as installed: cvlayers/, cvlayers/losses/, cvlayers/optim/.
typecheck:
	rm -rf build/typecheck && mkdir -p build/typecheck
	cp -r cvlayers build/typecheck/cvlayers
	cp -r losses build/typecheck/cvlayers/losses
	cp -r optim build/typecheck/cvlayers/optim
	cd build/typecheck && ../../$(BIN)/mypy --strict -p cvlayers

bench: venv
	$(BIN)/pip install -q $(TORCH) -e ".[bench]"
	$(BIN)/python -m benchmarks $(ARGS)
