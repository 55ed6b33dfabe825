# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-threading test-eventlet bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml cellsched/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,test]' -e ./cellsched
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cellsched demo

# The mode is process-global and cannot be undone, so the suite runs
# once per mode, each in its own pytest process.
test: test-threading test-eventlet

test-threading: $(STAMP)
	$(PY) -m pytest -q --offramp-mode=threading $(PYTEST_ARGS)

test-eventlet: $(STAMP)
	$(PY) -m pytest -q --offramp-mode=eventlet $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info cellsched/src/*.egg-info

# A/B benchmark of cellsched, threading vs eventlet, on both stacks
# (needs the local RabbitMQ and MariaDB for the real stack); fails when
# threading is worse than eventlet on RSS, throughput or p99. Both modes
# run with offramp's defaults (docs/performance.md). Other runs, e.g.:
#   make ab AB_ARGS="--stack embedded --rounds 3"
.PHONY: ab
AB_ARGS ?= --stack both --rounds 5 --warmup 150 --requests 1200 \
	--host-vcpus 32 --concurrency 10 --max-regression 1.0
ab: $(STAMP)
	$(PY) bench/ab.py $(AB_ARGS)

# Reliability (docs/reliability.md). `make test` already runs these tests
# with the CI load size; `make reliability` runs only them, once per mode;
# `make soak` runs the full 10,000-request load from 32 clients per mode.
.PHONY: reliability soak
RELIABILITY := cellsched/tests/test_faults.py cellsched/tests/test_load.py cellsched/tests/test_bad_input.py

reliability: $(STAMP)
	$(PY) -m pytest -q -s --offramp-mode=threading $(RELIABILITY) $(PYTEST_ARGS)
	$(PY) -m pytest -q -s --offramp-mode=eventlet $(RELIABILITY) $(PYTEST_ARGS)

soak: $(STAMP)
	CELLSCHED_LOAD_REQUESTS=10000 $(PY) -m pytest -q -s --offramp-mode=threading cellsched/tests/test_load.py $(PYTEST_ARGS)
	CELLSCHED_LOAD_REQUESTS=10000 $(PY) -m pytest -q -s --offramp-mode=eventlet cellsched/tests/test_load.py $(PYTEST_ARGS)

# Migration tooling on real sdists from PyPI (docs/migration.md): rewrite
# nova, oslo.messaging and glance and check the result; hold oslo.messaging
# to its own unit tests. Slow and networked (pip download), so not in
# `make test`. Set OFFRAMP_CORPUS_CACHE to a directory of sdists to reuse it.
.PHONY: corpus corpus-tests
corpus: $(STAMP)
	$(PY) bench/bench_rewrite.py

corpus-tests: $(STAMP)
	$(PY) bench/oslo_messaging_own_tests.py --control
