# The README's two commands: `make run` (set up, run the demo, show the dashboards) and
# `make test` (set up, pass the tests). Everything is installed into .venv by uv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(PY) -m uv
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := False
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: setup setup-spark java run test dev clean browser

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PY) -m uv --version >/dev/null 2>&1 || $(PY) -m pip install --quiet --disable-pip-version-check uv
	$(UV) venv --quiet --allow-existing $(VENV) --python $(PY)
	# dbt-core 1.12.0's parser exists only as a wheel; never build it from source (that downloads).
	# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (as on CI machines), nothing else
	# caches bytecode, and every process (each run, each dbt call) compiled Dagster, dbt and Great
	# Expectations from source again: ~20 s of CPU a process (docs/performance.md).
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python --only-binary dbt-core-experimental-parser -e '.[dev]'
	$(BIN)/python -m compileall -q pipelines dashboards tests
	$(BIN)/outcomes prepare
	@touch $@

# The same project on Apache Spark (docs/spark.md): the spark extra (pyspark, dbt-spark) on top of
# setup. Spark needs Java 17+: `make java` installs Debian's headless JDK when java is missing.
setup-spark: $(VENV)/.installed-spark

# pyspark is published as a source archive only: uv builds a wheel of it (~1.4 GB in uv's cache)
# and kept a new build for every environment set up (42 of them, 59 GB, filled this machine's
# shared disk and failed a CI run). Pruning drops the builds no longer reachable, not the newest.
$(VENV)/.installed-spark: $(VENV)/.installed
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python --only-binary dbt-core-experimental-parser -e '.[dev,spark]'
	$(UV) cache prune --quiet
	@command -v java >/dev/null || echo "setup-spark: no java on PATH: Spark needs Java 17+ (make java)" >&2
	@touch $@

java:
	@command -v java >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "make java: need root or sudo to apt-get install openjdk-17-jre-headless" >&2; exit 1; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q openjdk-17-jre-headless; }

run: setup
	$(BIN)/outcomes demo

# One worker per core; a test file stays on one worker, so its module fixtures (pipeline runs)
# are built once. The 30 slowest tests are listed at the end (where CI's time goes).
test: setup
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=30

# Debian's chromium for tests/test_browser.py (headless, offline). Only when it is missing;
# needs root or sudo (CI runs as root). Without it the browser tests skip locally, fail in CI.
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "make browser: need root or sudo to apt-get install chromium" >&2; exit 1; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

# `exec`: make passes a SIGTERM on to its child, which must be dagster itself; a shell in between
# died and left dagster's webserver, daemon and code servers running (docs/orchestration.md).
# `make dev DEV_HOME=... DEV_PORT=...`: another Dagster home and port (tests/test_dev_shutdown.py).
# The code location reads the home and landing from OUTCOMES_HOME and OUTCOMES_LANDING
# (pipelines/definitions.py): by default the demo's, `.outcomes` and `.outcomes/landing`.
dev: DEV_HOME ?= $(CURDIR)/.outcomes/dagster
dev: OUTCOMES_HOME ?= $(CURDIR)/.outcomes
dev: OUTCOMES_LANDING ?= $(OUTCOMES_HOME)/landing
dev: setup
	mkdir -p $(DEV_HOME)
	test -f $(DEV_HOME)/dagster.yaml || $(BIN)/python -c "from pipelines.runner import DAGSTER_YAML; print(DAGSTER_YAML, end='')" > $(DEV_HOME)/dagster.yaml
	DAGSTER_HOME=$(DEV_HOME) OUTCOMES_HOME=$(OUTCOMES_HOME) OUTCOMES_LANDING=$(OUTCOMES_LANDING) exec $(BIN)/dagster dev -w workspace.yaml $(if $(DEV_PORT),--port $(DEV_PORT))

clean:
	rm -rf .outcomes dbt_project/target dbt_project/logs
