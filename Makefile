# One entry point for set-up, the main job and the tests (CI runs `make test` via .ci/run).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data
OUT ?= outputs

.PHONY: setup run run-london run-vancouver test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=25.1"
	$(BIN)/pip install -q -e . --group test
	touch $@

setup: $(BIN)/.installed

run: run-london run-vancouver

run-london: setup
	$(BIN)/hotspots run --crimes $(DATA)/london/crimes \
	  --areas $(DATA)/london/wards_2014.gpkg \
	  --streets $(DATA)/london/streets_osm_london.gpkg \
	  --population $(DATA)/london/ward_population_mid2019.csv \
	  --out $(OUT)/london --overwrite

run-vancouver: setup
	$(BIN)/hotspots run --crimes $(DATA)/vancouver/vpd_crimedata_2020_2025.csv.gz --format vancouver \
	  --areas $(DATA)/vancouver/local_areas.gpkg \
	  --streets $(DATA)/vancouver/public_streets.gpkg \
	  --out $(OUT)/vancouver --overwrite

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/pip install -q --group lint
	$(BIN)/ruff check hotspots tests
	$(BIN)/mypy hotspots

clean:
	rm -rf $(OUT)/london $(OUT)/vancouver .pytest_cache
