# Two commands do all set-up: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
DEMO_SCENARIO ?= tests/lab/scenarios/demo.yml

.PHONY: setup test-setup browser demo demo-down test test-matrix molecule lint sanity sanity-wheels changelog build clean mutation mutation-sample

setup: $(STAMP)

$(STAMP): requirements-dev.txt tests/lab/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or later is needed (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e tests/lab
	@# Bytecode on every core at once, for all but the `ansible` package's other collections (about 15,000 of the
	@# venv's 20,000 files; only ansible.windows is used): pip compiles every file on one core. Like pip, it goes on
	@# past the files that do not compile (some packages ship Python 2 test data).
	-$(BIN)/python -m compileall -q -j 0 -x '/ansible_collections/(?!ansible/windows/)' \
	  "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" > /dev/null
	touch $(STAMP)

# A lab with every documented fault (plus healthy hosts), then the diagnosis.
demo: setup
	$(BIN)/avdlab down --dir .lab
	$(BIN)/avdlab up --scenario $(DEMO_SCENARIO) --dir .lab --inventory inventories/lab
	AZURE_CONFIG_DIR=$(CURDIR)/.lab/azure $(BIN)/ansible-playbook -i inventories/lab/hosts.yml -i inventories/lab/hostpool.avd.yml playbooks/diagnose.yml
	@echo
	@echo "HTML report: file://$(CURDIR)/reports/diagnosis.html (also reports/diagnosis.json, reports/junit-diagnosis.xml)"
	@echo "The lab keeps running: $(BIN)/avdlab status | show HOST | inject HOST FAULT; 'make demo-down' stops it."
	@echo "Its Azure credentials: export AZURE_CONFIG_DIR=$(CURDIR)/.lab/azure (before ansible-playbook or ansible-inventory)."

demo-down: setup
	$(BIN)/avdlab down --dir .lab

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/ansible-lint --offline --profile production

# ansible-test sanity on a copy of the tracked files laid out as ansible_collections/avdops/sessionhost,
# run from this venv (--local --python 3.11). ansible-test builds one virtual environment per test and
# would download pip's bootstrap script from ci-files.testing.ansible.com: HOME points at .sanity/home,
# where tests/sanity/get_pip.py stands in for that script and a pip.conf installs only from the wheels
# `sanity-wheels` saved once (through pip, like make setup). pwsh is not here, so pslint is skipped.
SANITY := $(CURDIR)/.sanity
SANITY_TREE := $(SANITY)/tree/ansible_collections/avdops/sessionhost
ANSIBLE_TEST_REQUIREMENTS = $(shell $(BIN)/python -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')

sanity-wheels: setup
	@test -f $(SANITY)/wheels/.complete || { \
	  mkdir -p $(SANITY)/wheels && \
	  $(BIN)/python -m pip download --quiet -d $(SANITY)/wheels pip==24.2 \
	    $$(for f in $(ANSIBLE_TEST_REQUIREMENTS)/sanity.*.txt; do echo -r $$f; done) \
	    -c $(ANSIBLE_TEST_REQUIREMENTS)/constraints.txt && touch $(SANITY)/wheels/.complete; }

sanity: sanity-wheels
	mkdir -p $(SANITY)/home/.ansible/test/cache $(SANITY)/home/.config/pip
	cp tests/sanity/get_pip.py $(SANITY)/home/.ansible/test/cache/get_pip_24_2.py
	printf '[global]\nno-index = true\nfind-links = %s\n' '$(SANITY)/wheels' > $(SANITY)/home/.config/pip/pip.conf
	rm -rf $(SANITY)/tree && mkdir -p $(SANITY_TREE)
	git ls-files --cached --others --exclude-standard | grep -v '^\.collections' | while read -r f; do test -e "$$f" && echo "$$f"; done \
	  | tar -cf - -T - | tar -xf - -C $(SANITY_TREE)
	cd $(SANITY_TREE) && git init --quiet && git add --all  # its own file list: .sanity is ignored here
	cd $(SANITY_TREE) && HOME=$(SANITY)/home $(CURDIR)/$(BIN)/ansible-test sanity --local --python 3.11 --color no \
	  --skip-test pslint

# The HTML report is checked in Debian's chromium (headless).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the HTML report test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# pytest runs every test and every molecule scenario of extensions/molecule (each scenario one test of
# tests/integration/test_molecule_scenarios.py), TEST_WORKERS at a time (pytest-xdist; a test module or a
# scenario runs whole on one worker, each on its own lab addresses: tests/conftest.py, docs/testing.md). It exits non-zero on any
# failure and (exit 5) when no test was collected; the lab processes the tests start are stopped by their
# fixtures, and stop_stray_labs.py stops any a killed run left behind.
# The windows scenario needs a real Windows host: without AVD_MOLECULE_HOST, AVD_MOLECULE_USER and
# AVD_MOLECULE_PASSWORD it is skipped, and the run says so.
# Five: with four, wait-heavy units running together left about 190 core-seconds idle on two cores (a fresh clone,
# 10 min 27 s); five use them for about 5% more CPU (9 min 43 s); six cost about 20% more CPU and gained nothing
# (docs/testing.md, "Under ten minutes").
TEST_WORKERS ?= 5
MOLECULE_SKIP = $(if $(and $(AVD_MOLECULE_HOST),$(AVD_MOLECULE_USER),$(AVD_MOLECULE_PASSWORD)),,--exclude windows)
MOLECULE_SKIP_MSG = SKIPPED molecule scenario windows: set AVD_MOLECULE_HOST, AVD_MOLECULE_USER and AVD_MOLECULE_PASSWORD to run it against a real Windows host (docs/testing.md)
MOLECULE_SKIP_SAY = $(if $(MOLECULE_SKIP),echo "$(MOLECULE_SKIP_MSG)",true)

# lint and sanity (about 3.5 minutes of CPU) run in the background while pytest runs, each on its own and at
# niceness CHECKS_NICE: the tests get the cores first, the checks take what the tests' waits leave idle (a whole run
# is bound by CPU: see docs/testing.md), and what is left of them after pytest runs on both cores at once. Their
# output is printed after pytest's. make test fails when any of them fails: with pytest's exit code when pytest
# failed (5 when it collected nothing), else with lint's, else with sanity's.
# PYTEST_ARGS adds options (make test PYTEST_ARGS=--store-durations measures each unit for the scheduler).
PYTEST_ARGS ?=
CHECKS_NICE ?= 10
# The set-up steps at once (make -j): pip's install keeps one core busy, apt's chromium the other.
test-setup:
	@$(MAKE) --no-print-directory -j 3 --output-sync=target setup browser sanity-wheels

test: test-setup
	@lint_log=$$(mktemp); sanity_log=$$(mktemp); \
	  nice -n $(CHECKS_NICE) $(MAKE) --no-print-directory lint > $$lint_log 2>&1 & lint_pid=$$!; \
	  nice -n $(CHECKS_NICE) $(MAKE) --no-print-directory sanity > $$sanity_log 2>&1 & sanity_pid=$$!; \
	  echo "make test: lint and sanity run in the background (output after pytest's)"; \
	  $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS); pytest=$$?; \
	  $(BIN)/python tests/lab/stop_stray_labs.py .lab-test; \
	  wait $$lint_pid; lint=$$?; wait $$sanity_pid; sanity=$$?; \
	  echo "== lint"; cat $$lint_log; echo "== sanity"; cat $$sanity_log; rm -f $$lint_log $$sanity_log; \
	  if [ $$lint -ne 0 ]; then echo "make test: lint failed (exit $$lint, above)"; fi; \
	  if [ $$sanity -ne 0 ]; then echo "make test: sanity failed (exit $$sanity, above)"; fi; \
	  if [ $$pytest -ne 0 ]; then exit $$pytest; fi; if [ $$lint -ne 0 ]; then exit $$lint; fi; exit $$sanity

# The other ansible-core versions meta/runtime.yml supports (docs/testing.md, "ansible-core matrix"): each in its own
# venv under .matrix/ (pip, the same pins as make setup but the core and the tools that need the newest one), with
# ansible.windows copied from .venv (the release a user installs; it supports 2.16 and later). For each: the unit
# tests and the lab smoke of diagnose and remediate. `make test` covers the pinned core (.venv). Not part of
# `make test` (about 3 minutes a core); make test-matrix MATRIX_CORES=2.16.19 for one. A lab the smoke left behind is
# stopped after each core (only its own: a make test in this checkout may be running).
MATRIX := $(CURDIR)/.matrix
MATRIX_CORES ?= 2.16.19 2.18.19
MATRIX_TESTS = tests/unit tests/integration/test_core_versions_smoke.py
MATRIX_SKIP = ansible-core|ansible|molecule|ansible-lint|mutmut|ruff|mypy|playwright|antsibull-changelog
test-matrix: setup
	mkdir -p $(MATRIX)/collections/ansible_collections/ansible
	grep -v -E '^($(MATRIX_SKIP))==' requirements-dev.txt > $(MATRIX)/requirements.txt
	rm -rf $(MATRIX)/collections/ansible_collections/ansible/windows
	cp -r "$$($(BIN)/python -c 'import ansible_collections.ansible.windows as m; print(list(m.__path__)[0])')" \
	  $(MATRIX)/collections/ansible_collections/ansible/windows
	@failed=; for core in $(MATRIX_CORES); do \
	  venv=$(MATRIX)/$$core; \
	  if ! cmp -s $(MATRIX)/requirements.txt $$venv/.requirements.txt; then \
	    rm -rf $$venv && $(PYTHON) -m venv $$venv && \
	    $$venv/bin/python -m pip install --quiet "ansible-core==$$core" -r $(MATRIX)/requirements.txt && \
	    $$venv/bin/python -m pip install --quiet --no-deps -e tests/lab && \
	    cp $(MATRIX)/requirements.txt $$venv/.requirements.txt || exit 1; \
	  fi; \
	  echo "== ansible-core $$core ($$($$venv/bin/python --version))"; \
	  ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.collections:$(MATRIX)/collections PATH=$$venv/bin:$$PATH \
	    $$venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadscope -p no:cacheprovider $(MATRIX_TESTS) \
	    || failed="$$failed $$core"; \
	  $(BIN)/python tests/lab/stop_stray_labs.py .lab-test/core-smoke; \
	done; \
	if [ -n "$$failed" ]; then echo "make test-matrix failed under ansible-core:$$failed"; exit 1; fi; \
	echo "make test-matrix passed under ansible-core $(MATRIX_CORES)"

# All scenarios, or one: make molecule MOLECULE_SCENARIO=registration
molecule: setup
	@$(if $(MOLECULE_SCENARIO),true,$(MOLECULE_SKIP_SAY))
	$(BIN)/python -m tests.molecule_run test $(if $(MOLECULE_SCENARIO),-s $(MOLECULE_SCENARIO),--all $(MOLECULE_SKIP))

# Mutation testing of the core logic and the write-side planners with the unit tests, every target
# or one (make mutation TARGET=_cleanup); not part of `make test` (docs/testing.md). MUTATION_JOBS
# targets run at once; `make mutation-sample` draws simple mutants independently of mutmut.
# MUTATION_NICE: their niceness (10 leaves the cores to others' tests; under a load of 10 and more a niced
# run gets no CPU at all, so MUTATION_NICE=0 takes its fair share).
MUTATION_JOBS ?= 2
MUTATION_NICE ?= 10
mutation: setup
	nice -n $(MUTATION_NICE) $(BIN)/python tests/mutation/mutation.py --jobs $(MUTATION_JOBS) $(foreach t,$(TARGET),--only $(t))

mutation-sample: setup
	nice -n $(MUTATION_NICE) $(BIN)/python tests/mutation/sample.py $(foreach t,$(TARGET),--only $(t))

# CHANGELOG.rst from changelogs/ (antsibull-changelog; `antsibull-changelog release` cuts a version)
changelog: setup
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog generate

build: setup
	mkdir -p build && $(BIN)/ansible-galaxy collection build --force --output-path build

clean:
	-$(BIN)/avdlab down --dir .lab
	rm -rf build .lab-test .mutation .matrix reports .pytest_cache .ruff_cache .mypy_cache .sanity/tree
