# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed-stamp
INSTALL := -e '.[all,test]' -e ./cellsched
# uv makes the venvs and installs into them, in seconds; it uses the
# machine's interpreters and never downloads one of its own.
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test test-quick test-threading test-eventlet test-threading-offramp \
	test-threading-cellsched test-eventlet-offramp test-eventlet-cellsched bench \
	install clean

install: $(STAMP)

$(STAMP): pyproject.toml cellsched/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv
	$(UV) pip install --quiet --python $(PY) $(INSTALL)
	touch $(STAMP)

# `make test` also runs the runtime and migration suites (tests/) in both
# modes on these Pythons, each in its own .venv-3.x. EXTRA_PYTHONS= skips
# them.
EXTRA_PYTHONS ?= 3.12 3.13
EXTRA_STAMPS := $(EXTRA_PYTHONS:%=.venv-%/.installed-stamp)

# The interpreter for Python $*: pyenv's newest 3.x when pyenv has one,
# else python3.x on PATH (a pyenv shim that cannot run does not count).
FIND_PYTHON = p="$$(pyenv prefix $* 2>/dev/null)/bin/python$*"; \
	test -x "$$p" || p="$$(command -v python$*)"; \
	if ! "$$p" -c '' 2>/dev/null; then \
		echo "make: Python $* not found: install it (pyenv install $*) or put" \
			"python$* on PATH; EXTRA_PYTHONS='$(filter-out $*,$(EXTRA_PYTHONS))'" \
			"leaves it out" >&2; \
		exit 1; \
	fi

# Installs run one after another: they build the same source tree. The
# venvs get pip too (--seed), as `python -m venv` gives .venv: tests may
# pip-install into their interpreter.
.venv-%/.installed-stamp: pyproject.toml cellsched/pyproject.toml $(STAMP)
	@$(FIND_PYTHON); echo "$(UV) venv --seed --python $$p .venv-$*"; \
		$(UV) venv --quiet --seed --allow-existing --python "$$p" .venv-$*
	$(UV) pip install --quiet --python .venv-$*/bin/python $(INSTALL)
	touch $@

demo: $(STAMP)
	$(VENV)/bin/cellsched demo

# The mode is process-global and cannot be undone, so each mode runs in
# its own pytest processes: one for cellsched/tests, one for every other
# test path of pyproject.toml (offramp: runtime and migration tooling).
# Tests marked mode_independent (tests/migrate, memtrack, tests that start
# their own interpreter in a set mode) run once, with threading. Threading
# runs of the offramp tests use both cores with pytest-xdist; eventlet runs
# cannot (its monkey patching breaks xdist's worker threads). The cellsched
# parts of both modes run side by side; their tests that start a served
# process share two slots (see cellsched/tests/conftest.py).
XDIST ?= -n 2
# The slowest tests of each part are listed, to keep an eye on the budget.
PYTEST_OPTS ?= -q --durations=10
EVENTLET_ONLY := -m 'not mode_independent'

# eventlet imports dnspython for its green DNS, about 0.3 s of CPU for
# every eventlet-mode process the tests start; the tests resolve only
# 127.0.0.1, so they turn it off, as cinder does in production.
TEST_ENV := env EVENTLET_NO_GREENDNS=yes

# The pytest command of each part of `make test`; each is also a target.
PART_test-threading-offramp = $(TEST_ENV) $(PY) -m pytest $(PYTEST_OPTS) --offramp-mode=threading $(XDIST) \
	--ignore-glob='cellsched/tests/*' $(PYTEST_ARGS)
PART_test-threading-cellsched = $(TEST_ENV) $(PY) -m pytest $(PYTEST_OPTS) --offramp-mode=threading \
	cellsched/tests $(PYTEST_ARGS)
PART_test-eventlet-offramp = $(TEST_ENV) $(PY) -m pytest $(PYTEST_OPTS) --offramp-mode=eventlet $(EVENTLET_ONLY) \
	--ignore-glob='cellsched/tests/*' $(PYTEST_ARGS)
PART_test-eventlet-cellsched = $(TEST_ENV) $(PY) -m pytest $(PYTEST_OPTS) --offramp-mode=eventlet $(EVENTLET_ONLY) \
	cellsched/tests $(PYTEST_ARGS)
define extra_python_parts
PART_test-$(1)-threading = $$(TEST_ENV) .venv-$(1)/bin/python -m pytest $$(PYTEST_OPTS) --offramp-mode=threading \
	$$(XDIST) tests $$(PYTEST_ARGS)
PART_test-$(1)-eventlet = $$(TEST_ENV) .venv-$(1)/bin/python -m pytest $$(PYTEST_OPTS) --offramp-mode=eventlet \
	$$(EVENTLET_ONLY) tests $$(PYTEST_ARGS)
.PHONY: test-$(1)-threading test-$(1)-eventlet
test-$(1)-threading test-$(1)-eventlet: .venv-$(1)/.installed-stamp
	$$(PART_$$@)
endef
$(foreach v,$(EXTRA_PYTHONS),$(eval $(call extra_python_parts,$(v))))

PARTS_311 := test-threading-offramp test-threading-cellsched test-eventlet-offramp \
	test-eventlet-cellsched
$(PARTS_311): $(STAMP)
	$(PART_$@)

# The whole suite in one mode, on the default Python.
test-threading: test-threading-offramp test-threading-cellsched
test-eventlet: test-eventlet-offramp test-eventlet-cellsched

# `make test` runs every part, TEST_JOBS at a time, longest first; each
# part's output is shown whole when it ends. Every part runs even when
# another fails; the summary names each part's result, adds up the tests,
# and `make test` fails if any part did.
TEST_JOBS ?= 3
TEST_PARTS := test-eventlet-cellsched test-threading-cellsched test-threading-offramp \
	test-eventlet-offramp \
	$(foreach v,$(EXTRA_PYTHONS),test-$(v)-threading test-$(v)-eventlet)
RESULTS := .test-results

test: $(STAMP) $(EXTRA_STAMPS)
	@rm -rf $(RESULTS) && mkdir $(RESULTS)
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target \
		$(TEST_PARTS:%=$(RESULTS)/%)
	@cd $(RESULTS) && status=0 && for part in $(TEST_PARTS); do \
		if [ "$$(cat $$part)" = 0 ]; then echo "passed: $$part"; \
		else echo "FAILED: $$part (exit $$(cat $$part))"; status=1; fi; \
	done; \
	awk '/^[0-9].* in [0-9.]+s/ { last[FILENAME] = $$0 } \
		END { for (f in last) { k = split(last[f], w, /[ ,]+/); \
			for (i = 2; i <= k; i++) n[w[i]] += w[i - 1] } \
		printf "total: %d passed, %d failed, %d skipped\n", n["passed"], \
			n["failed"] + n["error"] + n["errors"], n["skipped"] }' \
		$(TEST_PARTS:%=%.log); \
	exit $$status

# Runs the part's pytest directly (not through a sub-make), so that
# --output-sync keeps its header and output together.
$(RESULTS)/%: FORCE
	@echo "=== $*: $(strip $(PART_$*))"; \
	$(PART_$*) > $@.log 2>&1; echo $$? > $@; \
	cat $@.log

# Without PostgreSQL, MariaDB or RabbitMQ: every test not marked
# needs_services, both modes, on the default Python.
test-quick: $(STAMP)
	@$(TEST_ENV) $(PY) -m pytest $(PYTEST_OPTS) --offramp-mode=threading $(XDIST) -m "not needs_services" \
		$(PYTEST_ARGS); threading=$$?; \
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_OPTS) --offramp-mode=eventlet \
		-m "not needs_services and not mode_independent" $(PYTEST_ARGS); \
	eventlet=$$?; \
	echo "test-quick: threading exit $$threading, eventlet exit $$eventlet"; \
	[ $$threading = 0 ] && [ $$eventlet = 0 ]

FORCE:

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .venv-3.* $(RESULTS) build *.egg-info src/*.egg-info \
		cellsched/src/*.egg-info

# A/B benchmark of cellsched, threading vs eventlet, on both stacks
# (needs the local RabbitMQ and MariaDB for the real stack); fails when
# threading is worse than eventlet on RSS, throughput or p99. Both modes
# run with offramp's defaults (docs/performance.md). Other runs, e.g.:
#   make ab AB_ARGS="--stack embedded --rounds 3"
.PHONY: ab
AB_ARGS ?= --stack both --rounds 5 --warmup 150 --requests 1200 \
	--host-vcpus 32 --concurrency 10 --embedded-concurrency 64 --max-regression 1.0
ab: $(STAMP)
	$(PY) bench/ab.py $(AB_ARGS)

# Reliability (docs/reliability.md). `make test` runs these tests at a CI
# size that still proves each property (200 requests with bad cells,
# 2,000 under load); `make reliability` runs only them, once per mode,
# with 500 requests with bad cells; `make soak` runs the full
# 10,000-request load from 32 clients per mode.
.PHONY: reliability soak
RELIABILITY := cellsched/tests/test_faults.py cellsched/tests/test_load.py cellsched/tests/test_bad_input.py

reliability: $(STAMP)
	CELLSCHED_FAULTS_REQUESTS=500 $(PY) -m pytest -q -s --offramp-mode=threading $(RELIABILITY) $(PYTEST_ARGS)
	CELLSCHED_FAULTS_REQUESTS=500 $(PY) -m pytest -q -s --offramp-mode=eventlet $(RELIABILITY) $(PYTEST_ARGS)

soak: $(STAMP)
	CELLSCHED_LOAD_REQUESTS=10000 $(PY) -m pytest -q -s --offramp-mode=threading cellsched/tests/test_load.py $(PYTEST_ARGS)
	CELLSCHED_LOAD_REQUESTS=10000 $(PY) -m pytest -q -s --offramp-mode=eventlet cellsched/tests/test_load.py $(PYTEST_ARGS)

# Migration tooling on real sdists from PyPI (docs/migration.md): rewrite
# nova, oslo.messaging and glance and check the result; hold oslo.messaging
# to its own unit tests. Slow and networked (pip download), so not in
# `make test`. Set OFFRAMP_CORPUS_CACHE to a directory of sdists to reuse it.
.PHONY: corpus corpus-tests bench-scan
corpus: $(STAMP)
	$(PY) bench/bench_rewrite.py

# scan and lint next to grep on nova and cinder (docs/migration.md); exits 1
# when a count differs from grep's or a speed goal is missed.
bench-scan: $(STAMP)
	$(PY) bench/bench_scan_corpus.py

corpus-tests: $(STAMP)
	$(PY) bench/oslo_messaging_own_tests.py --control
