# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test programs lint format benchmark clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

DEMO_RASTERS := data/raw/landuse_2015.tif data/raw/landuse_2020.tif

demo: $(STAMP) $(DEMO_RASTERS)  ## run the bundled Guiyang study from the synthetic rasters
	$(BIN)/carbon-zoning run study.toml

$(DEMO_RASTERS) &: pyproject.toml data/raw/demo_landuse_targets.csv data/raw/guiyang_counties.gpkg
	$(MAKE) $(STAMP)
	$(BIN)/carbon-zoning demo --out-dir data/raw

test: $(STAMP)  ## run the test suite
	$(BIN)/python -m pytest -n 2 --dist loadfile

programs: $(STAMP)  ## the outputs in QGIS, LibreOffice and Chromium (tests/test_real_programs.py)
	$(BIN)/python -m pytest tests/test_real_programs.py -p no:xdist

lint: $(STAMP)  ## ruff, and the layer rules of the house (import-linter contracts in pyproject)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

benchmark: $(STAMP)  ## zonal engine against rasterstats and exactextract (province size)
	$(BIN)/python benchmarks/zonal.py --pixels 15000 --units 90

clean:
	rm -rf data/processed maps/*.png maps/*.pdf maps/*.svg
