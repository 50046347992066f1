# The two quickstart commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK := requirements/dev.txt
# pip-compile, not uv: it reads this machine's pip configuration (find-links, extra indexes).
# --upgrade takes the newest versions pyproject.toml allows; `make lock LOCK_UPGRADE=` only
# adds or drops what pyproject.toml changed and keeps the other pins.
LOCK_UPGRADE ?= --upgrade
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet $(LOCK_UPGRADE) \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

.PHONY: run test install lock lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/mahnwerk init --demo
	$(BIN)/mahnwerk serve --host 127.0.0.1 --port 5000

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

lock: $(STAMP)
	$(BIN)/pip show --quiet pip-tools >/dev/null 2>&1 || $(BIN)/pip install --quiet pip-tools
	$(PIP_COMPILE) -o $(RUNTIME_LOCK) pyproject.toml
	$(PIP_COMPILE) --extra dev -c $(RUNTIME_LOCK) -o $(DEV_LOCK) pyproject.toml

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/daily_run.py --cases 100000

clean:
	rm -rf $(VENV) instance .pytest_cache
