# Two commands: `make run` serves the demo on SQLite, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The server answers at once (popularity from the database); the trainer beside it publishes
# every strategy within a minute or two, and the workers pick each version up as it lands.
run: $(STAMP)
	$(BIN)/recsys init-db
	$(BIN)/recsys demo-data --if-empty
	$(BIN)/recsys serve --with-trainer

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n auto --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var build *.egg-info
