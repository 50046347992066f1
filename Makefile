# The two quickstart commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint format bench clean

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

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/daily_run.py --cases 100000

clean:
	rm -rf $(VENV) instance .pytest_cache

# Translations (docs/translations.md): extract the texts marked in the code and templates into
# engine/locale/messages.pot, merge them into each language's .po, compile the .mo files (both
# committed: a fresh clone and a wheel need no build step). Edit the .po, then run this again.
LOCALES := engine/locale
.PHONY: messages
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k msg -k pmsg:1c,2 --add-location=file --sort-output \
		--no-wrap --project=Mahnwerk -o $(LOCALES)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-wrap --ignore-obsolete \
		--ignore-pot-creation-date
	$(BIN)/pybabel compile -d $(LOCALES) --statistics
