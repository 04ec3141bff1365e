# The two commands a new user needs: `make synth` and `make test`.
# Each installs what is missing first (a Python virtual environment from the
# Pipfile, the cdktf CLI from package.json) and is a no-op install afterwards.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SCAN_VENV := .venv-scan
PY := $(VENV)/bin/python
CDKTF := node_modules/.bin/cdktf
ARGS ?=
CONFIG ?= $(PIPELINE_CONFIG)
ENVIRONMENTS ?= $(PIPELINE_ENVIRONMENTS)

# jsii and the cdktf CLI run on the Node.js 22 that package.json installs: a release jsii
# supports (no end-of-life banner), and its kernel starts faster than on Node 20.
NODE := $(CURDIR)/node_modules/.bin/node
export JSII_NODE = $(shell test -x $(NODE) && echo $(NODE) || echo node)

export CHECKPOINT_DISABLE := 1
export CDKTF_DISABLE_PLUGIN_CACHE_ENV := 1
export PIPELINE_CONFIG := $(CONFIG)
export PIPELINE_ENVIRONMENTS := $(ENVIRONMENTS)

.PHONY: help install synth test plan terraform-on-path bench local replay scan clean

help:
	@echo "make synth   install what is missing, then cdktf synth (CONFIG=file for a custom configuration)"
	@echo "make test    install what is missing, then run the whole test suite"
	@echo "make plan    synth, then terraform init + plan in each stack directory"
	@echo "make validate  synth, then terraform validate of each stack (offline when the registry is unreachable)"
	@echo "make scan    synth, then the checkov security scan of every stack"
	@echo "make bench   print performance figures"
	@echo "make local   run the pipeline end to end on a local AWS emulator (ARGS=\"--items 500\")"
	@echo "make replay  republish stream batches from the failure queue (ARGS=\"--queue-url ... --topic-arn ...\")"

install: $(VENV)/.installed $(CDKTF) $(SCAN_VENV)/.installed

# checkov pins an older boto3 than the project, so it lives in its own environment.
$(SCAN_VENV)/.installed: security/requirements.txt
	@echo "==> creating $(SCAN_VENV) for the security scan (checkov)"
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	@$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r security/requirements.txt
	@touch $@

$(VENV)/.installed: Pipfile scripts/pipfile_requirements.py
	@echo "==> creating $(VENV) and installing the Pipfile's packages"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) scripts/pipfile_requirements.py > $(VENV)/requirements.txt
	@$(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt
	@touch $@

$(CDKTF): package.json
	@echo "==> installing the cdktf CLI (package.json)"
	@npm install --no-audit --no-fund --no-package-lock --loglevel=error
	@touch $@

# The configuration is checked first: a bad one then stops with its message printed once (the
# cdktf CLI would print the app's error output twice, as it streams and in its summary).
synth: install
	@$(PY) main.py --check
	@$(JSII_NODE) $(CDKTF) synth
	@ls -1 cdktf.out/stacks/*/cdk.tf.json

test: install
	@$(PY) -m pytest $(ARGS)

# Checked before synth, so a missing binary fails at once.
plan: terraform-on-path synth
	@for dir in cdktf.out/stacks/*/; do \
	  echo "==> terraform plan in $$dir"; \
	  (cd $$dir && terraform init -input=false && terraform plan -input=false) || exit 1; \
	done

# Offline (local module copies, schema-only provider, plus an offline plan) when ../shared/terraform
# or PIPELINE_TERRAFORM_OFFLINE_DIR exists and the registry cannot be reached, or when VALIDATE_OFFLINE=1.
.PHONY: validate
validate: synth
	@$(PY) scripts/terraform_validate.py $(if $(filter 1,$(VALIDATE_OFFLINE)),--offline,--auto-offline) --plan cdktf.out/stacks/*/

scan: synth
	@$(PY) scripts/security_scan.py

terraform-on-path:
	@command -v terraform >/dev/null 2>&1 || { echo "make plan: no terraform binary on PATH; install Terraform >= 1.3 to plan (make synth writes cdktf.out/stacks without it)"; exit 1; }

bench: install
	@$(PY) -m bench $(ARGS)

local: $(VENV)/.installed
	@$(PY) -m local_pipeline $(ARGS)

replay: $(VENV)/.installed
	@$(PY) -m tools.replay_stream_failures $(ARGS)

clean:
	rm -rf cdktf.out .build .pytest_cache
