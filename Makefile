# Quickstart: `make run` (development server + task worker) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format ci install migrate clean schema bench chaos

$(STAMP): pyproject.toml constraints.txt scripts/system-packages.sh
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"' \
		|| { echo "Python 3.11 or newer is required (found: $$($(PYTHON) --version))"; exit 1; }
	@bash scripts/system-packages.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable

run: migrate
	$(PY) manage.py seed_demo
	@HOST=$(HOST) PORT=$(PORT) PY=$(PY) bash scripts/run-dev.sh

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

ci:
	bash .ci/run

# HTTP benchmark on a seeded database (docs/benchmarks.md), e.g. make bench BENCH_ARGS=--quick
bench: $(STAMP)
	$(PY) manage.py bench_web $(BENCH_ARGS)

# The fault matrix (docs/reliability.md), e.g. make chaos CHAOS_ARGS=--quick or "--soak 30m"
chaos: $(STAMP)
	$(PY) manage.py chaos $(CHAOS_ARGS)

# Regenerate the committed OpenAPI schema after a deliberate API change (tests compare them).
schema: $(STAMP)
	$(PY) manage.py spectacular --file docs/openapi.yaml --validate --fail-on-warn

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache

# Trix, the editor's rich-text field, is committed in static/vendor/trix (its README.md says
# why and how); this refreshes it from the npm registry: make vendor-trix TRIX_VERSION=x.y.z
TRIX_VERSION ?= 2.1.19
.PHONY: vendor-trix
vendor-trix:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent trix@$(TRIX_VERSION) >/dev/null \
		&& tar xzf trix-$(TRIX_VERSION).tgz \
		&& sed '$${/^\/\/# sourceMappingURL=/d}' package/dist/trix.umd.min.js \
			> $(CURDIR)/static/vendor/trix/trix.umd.min.js \
		&& cp package/dist/trix.css package/LICENSE $(CURDIR)/static/vendor/trix/ \
		&& rm -rf $$tmp
