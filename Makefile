# One entry point for set-up, the main job and the tests (CI runs `make test` via .ci/run).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data
OUT ?= outputs
# Maps work without internet (scripts inlined, street network instead of tiles); use MAPS= for web tiles
MAPS ?= --offline

.PHONY: setup run run-london run-vancouver run-callers-demo test
.PHONY: london-evaluate london-run london-brief vancouver-evaluate vancouver-run vancouver-brief
.PHONY: callers-data callers-run callers-brief
.PHONY: test-fast lint bench bench-peers bench-whole clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=25.1"
	$(BIN)/pip install -q -e . --group test --group lint
	touch $@

CHROMIUM ?= /usr/bin/chromium

# Python packages (PyPI), the map scripts (npm, pinned in package-lock.json) and Chromium for
# the browser tests (Debian). Nothing third-party is committed to the repository.
setup: $(BIN)/.installed node_modules/.package-lock.json $(CHROMIUM)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

# `make run` runs the three chains below at the same time (JOBS steps at once, default 3: each
# chain's next step starts as soon as its step before ends; JOBS=1 runs one step at a time),
# while each chain's steps stay in order (evaluate, then run, then brief). Each step's output is
# printed whole when it ends (--output-sync); a failing step stops `make run` with its message
# and the make error naming the step. London's chain is the longest and sets the run's end, so
# the other two run at a lower CPU priority: `nice` increments NICE_VANCOUVER (slightly lower)
# and NICE_CALLERS (low: the demo is small and can wait); 0 and 0 give every chain an equal
# share. The kernel gives London's steps the cores when both want them, and the others what
# London leaves. Measured (issue 19, alternated on a 2-core machine): 116.7 and 121.7 s for
# 230 and 240 s of the machine's busy CPU (1.5% over the least 2 cores allow), against 112.5
# and 110.4 s for 216 and 211 s (4-5% over) with a step per core and equal shares.
JOBS ?= 3
NICE_VANCOUVER ?= 2
NICE_CALLERS ?= 10
RUN_STEPS := vancouver-brief london-brief callers-brief

run: setup
	@$(MAKE) --no-print-directory -j$(JOBS) --output-sync=target $(RUN_STEPS)

run-london: london-brief

run-vancouver: vancouver-brief

run-callers-demo: callers-brief

london-evaluate: setup
	$(BIN)/hotspots evaluate --crimes $(DATA)/london/crimes \
	  --streets $(DATA)/london/streets_osm_london.gpkg --areas $(DATA)/london/wards_2014.gpkg \
	  --out $(OUT)/evaluate_london --overwrite --quiet

london-run: london-evaluate
	$(BIN)/hotspots run --crimes $(DATA)/london/crimes --backtest $(OUT)/evaluate_london --forecast \
	  --areas $(DATA)/london/wards_2014.gpkg \
	  --streets $(DATA)/london/streets_osm_london.gpkg \
	  --population $(DATA)/london/ward_population_mid2019.csv \
	  --overlay lsoa=$(DATA)/london/lsoa_2011.gpkg \
	  --out $(OUT)/london --overwrite $(MAPS)

london-brief: london-run
	$(BIN)/hotspots brief $(OUT)/london --backtest $(OUT)/evaluate_london

vancouver-evaluate: setup
	nice -n $(NICE_VANCOUVER) $(BIN)/hotspots evaluate --crimes $(DATA)/vancouver/vpd_crimedata_2020_2025.csv.gz --format vancouver \
	  --streets $(DATA)/vancouver/public_streets.gpkg --areas $(DATA)/vancouver/local_areas.gpkg \
	  --out $(OUT)/evaluate_vancouver --overwrite --quiet

vancouver-run: vancouver-evaluate
	nice -n $(NICE_VANCOUVER) $(BIN)/hotspots run --crimes $(DATA)/vancouver/vpd_crimedata_2020_2025.csv.gz --format vancouver \
	  --backtest $(OUT)/evaluate_vancouver --forecast \
	  --areas $(DATA)/vancouver/local_areas.gpkg \
	  --streets $(DATA)/vancouver/public_streets.gpkg \
	  --overlay grid=h3:7 \
	  --out $(OUT)/vancouver --overwrite $(MAPS)

vancouver-brief: vancouver-run
	nice -n $(NICE_VANCOUVER) $(BIN)/hotspots brief $(OUT)/vancouver --backtest $(OUT)/evaluate_vancouver

# Repeat callers (issue 21.6). The real data has no caller column, so a committed script adds a
# clearly labelled SYNTHETIC one to Vancouver's 2025 records (outputs/callers_demo_data, with a
# SYNTHETIC_README.txt); the run of its last 6 months shows the repeat-caller counts per place
# in the maps (a layer marked "synthetic demo data"), the area lists and the briefs (HTML), never
# a caller reference. About 15 seconds.
CALLERS_DATA := $(OUT)/callers_demo_data
callers-data: setup
	nice -n $(NICE_CALLERS) $(BIN)/python -m tests.fixtures.make_callers $(DATA)/vancouver/vpd_crimedata_2020_2025.csv.gz \
	  $(CALLERS_DATA) --year 2025

callers-run: callers-data
	nice -n $(NICE_CALLERS) $(BIN)/hotspots run --crimes $(CALLERS_DATA)/SYNTHETIC_callers_vpd_2025.csv \
	  --format $(CALLERS_DATA)/SYNTHETIC_callers_vancouver.toml --start 2025-07 \
	  --areas $(DATA)/vancouver/local_areas.gpkg --streets $(DATA)/vancouver/public_streets.gpkg \
	  --out $(OUT)/callers_demo --overwrite --quiet $(MAPS)

callers-brief: callers-run
	nice -n $(NICE_CALLERS) $(BIN)/hotspots brief $(OUT)/callers_demo --no-pdf --quiet

# lint and types first (what .ci/run runs), then the suite; pytest lists its 15 slowest items
# last, so a test that grows expensive is seen
test: setup lint
	$(BIN)/python -m pytest --durations=15

# the inner loop: every test but the end-to-end ones (whole real-data runs, runs in
# subprocesses, notebooks, browser tests of runs, the wheel install), about 90 seconds on 2 cores
test-fast: setup
	$(BIN)/python -m pytest -m "not e2e" --durations=10

LINTED := hotspots tests notebooks benchmarks setup.py

lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy hotspots

bench: setup
	$(BIN)/python benchmarks/run_benchmark.py
	$(BIN)/python benchmarks/map_load.py $(OUT)/london/map.html $(OUT)/london/maps/E05000644.html $(OUT)/vancouver/map.html

# The peers of the whole-run benchmark (as root): R + sfhotspot from ../shared/peers, and
# hexseg (PyPI) into .venv through pyproject's `bench` group. Steps already done are skipped.
bench-peers: setup
	VENV=$(VENV) sh benchmarks/peers/install_peers.sh

# Every target of issue 19 in one run, each beside its peer or budget (about 20 minutes;
# BENCH_ARGS=--quick for targets 1, 2, 4 and 6 once each).
bench-whole: bench-peers
	$(BIN)/python benchmarks/whole_run.py $(BENCH_ARGS)

clean:
	rm -rf $(OUT)/london $(OUT)/vancouver $(OUT)/callers_demo $(OUT)/callers_demo_data .pytest_cache
