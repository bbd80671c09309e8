# The two commands of the README. Both create .venv themselves; nothing else is needed
# on the machine but Python 3.11+, git and make (npm optional, for the offline explorer).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet

.PHONY: run test lint format schema bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	@$(BIN)/livegate explorer fetch-assets --if-missing || true
	$(BIN)/livegate migrate
	$(BIN)/livegate platform demo
	$(BIN)/livegate serve

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-export the served SDL after changing the GraphQL types; commit the result.
schema: $(RUN_STAMP)
	$(BIN)/python -c "from schema.build import export_sdl; open('schema/schema.graphql', 'w').write(export_sdl())"

bench: $(TEST_STAMP)
	$(BIN)/python scripts/bench.py all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
