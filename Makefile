# The two quickstart commands: `make run` and `make test`.
# Both install from the lock files in requirements/ (exact versions and hashes); `make lock`
# refreshes them from pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK := requirements/dev.txt
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
# pip-compile, not uv: it reads this machine's pip configuration (find-links, extra indexes).
# --upgrade takes the newest versions pyproject.toml allows; `make lock LOCK_UPGRADE=` only
# adds or drops what pyproject.toml changed and keeps the other pins.
LOCK_UPGRADE ?= --upgrade
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet $(LOCK_UPGRADE) \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

.PHONY: run test install lock lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The runtime set only, then the project itself without its dependencies (they are the lock's).
$(RUNTIME_STAMP): $(RUNTIME_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r $(RUNTIME_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# The dev lock holds the runtime set at the same versions, plus the test and lint tools.
$(DEV_STAMP): $(DEV_LOCK) $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	touch $@

install: $(DEV_STAMP)

run: $(RUNTIME_STAMP)
	$(BIN)/mahnwerk init --demo
	$(BIN)/mahnwerk serve --host 127.0.0.1 --port 5000

test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q

lock: | $(BIN)/python
	$(BIN)/pip show --quiet pip-tools >/dev/null 2>&1 || $(BIN)/pip install --quiet pip-tools
	$(PIP_COMPILE) -o $(RUNTIME_LOCK) pyproject.toml
	$(PIP_COMPILE) --extra dev -c $(RUNTIME_LOCK) -o $(DEV_LOCK) pyproject.toml

lint: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(DEV_STAMP)
	$(BIN)/python bench/daily_run.py --cases 100000

clean:
	rm -rf $(VENV) instance .pytest_cache

# Translations (docs/translations.md): extract the texts marked in the code and templates into
# engine/locale/messages.pot, merge them into each language's .po, compile the .mo files (both
# committed: a fresh clone and a wheel need no build step). Edit the .po, then run this again.
LOCALES := engine/locale
.PHONY: messages
messages: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k msg -k pmsg:1c,2 --add-location=file --sort-output \
		--no-wrap --project=Mahnwerk -o $(LOCALES)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-wrap --ignore-obsolete \
		--ignore-pot-creation-date
	$(BIN)/pybabel compile -d $(LOCALES) --statistics
