# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format benchmark clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## run the bundled Guiyang study (generates the synthetic rasters when missing)
	$(BIN)/carbon-zoning run study.toml

test: $(STAMP)  ## run the test suite
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

benchmark: $(STAMP)  ## zonal engine against rasterstats and exactextract (province size)
	$(BIN)/python benchmarks/zonal.py --pixels 15000 --units 90

clean:
	rm -rf data/processed maps/*.png maps/*.pdf maps/*.svg
