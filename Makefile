# The two commands a new user needs: `make synth` and `make test`.
# Each installs only what it is missing first, Python and npm in parallel, one line per
# install step when it starts and one with its duration when it ends (scripts/setup_env.py),
# and installs nothing afterwards. `make help` lists every target and variable.

SHELL := /bin/bash

# --- variables (all listed by `make help`) ---------------------------------------------------
PYTHON ?= python3
CDK ?= cdktf
TERRAFORM ?= terraform
INSTALLER ?= uv
ARGS ?=
CONFIG ?= $(PIPELINE_CONFIG)
ENVIRONMENTS ?= $(PIPELINE_ENVIRONMENTS)
PROFILE ?= $(PIPELINE_STACK_PROFILE)

# CDK=cdktf (default): .venv from the Pipfile, the cdktf CLI from package.json.
# CDK=cdktn (CDK Terrain): .venv-cdktn from cdktn/Pipfile, the cdktn CLI from cdktn/package.json.
ifeq ($(CDK),cdktf)
VENV := .venv
PIPFILE := Pipfile
NPM_DIR := .
NODE_MODULES := node_modules
else ifeq ($(CDK),cdktn)
VENV := .venv-cdktn
PIPFILE := cdktn/Pipfile
NPM_DIR := cdktn
NODE_MODULES := cdktn/node_modules
ifneq ($(words $(wildcard cdktn/Pipfile cdktn/package.json)),2)
$(error error: CDK=cdktn: needs cdktn/Pipfile and cdktn/package.json, missing from this checkout)
endif
else
$(error error: CDK: must be cdktf or cdktn, not '$(CDK)')
endif
PY := $(VENV)/bin/python
CLI := $(NODE_MODULES)/.bin/$(CDK)
SCAN_VENV := .venv-scan
TOOLS := .venv-tools
UV_READY := $(if $(filter uv,$(INSTALLER)),$(TOOLS)/.ready)

# What each target installs: synth never needs checkov.
SYNTH_DEPS := $(VENV)/.installed $(CLI)
TEST_DEPS := $(SYNTH_DEPS) $(SCAN_VENV)/.installed

# jsii and the CLI run on the Node.js 22 that package.json installs: a release jsii supports
# (no end-of-life banner), and its kernel starts faster than on Node 20.
# Chosen in each recipe's shell, after the install step may have added it ($JSII_NODE wins).
NODE := $(CURDIR)/$(NODE_MODULES)/.bin/node
WITH_NODE = JSII_NODE="$${JSII_NODE:-$$(test -x $(NODE) && echo $(NODE) || echo node)}"

export CHECKPOINT_DISABLE := 1
export CDKTF_DISABLE_PLUGIN_CACHE_ENV := 1
export PIPELINE_CONFIG := $(CONFIG)
export PIPELINE_ENVIRONMENTS := $(ENVIRONMENTS)
export PIPELINE_STACK_PROFILE := $(PROFILE)
# Read by main.py (which library to import) and scripts/cdktf-app (which interpreter runs it).
export PIPELINE_CDK := $(CDK)
export PIPELINE_PYTHON := $(CURDIR)/$(PY)
export PIPELINE_INSTALLER := $(INSTALLER)
# The uv make installs, for what synth installs itself (powertools_layer = "none") where .venv has no
# pip: the library looks only at $PIPELINE_UV and PATH, never into this checkout. Expanded per recipe.
export PIPELINE_UV ?= $(if $(wildcard $(CURDIR)/$(TOOLS)/bin/uv),$(CURDIR)/$(TOOLS)/bin/uv)
# The provider's lazy jsii copy, kept with this checkout's other build artefacts.
export PIPELINE_JSII_CACHE_DIR ?= $(CURDIR)/.build/jsii
export TERRAFORM

# TF_CLI_CONFIG_FILE naming a file that does not exist makes terraform, and the cdktf CLI that
# runs it, print a warning block on every call ("Unable to open CLI configuration file"). It
# configures nothing, so it is dropped for make's commands; terraform then reads ~/.terraformrc
# if there is one, as without the variable.
ifneq ($(TF_CLI_CONFIG_FILE),)
ifeq ($(wildcard $(TF_CLI_CONFIG_FILE)),)
unexport TF_CLI_CONFIG_FILE
endif
endif

# One line instead of a traceback when the interpreter that builds the environments is too old.
define preflight
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: PYTHON: '$(PYTHON)' is not on PATH; install Python 3.11 or newer, or run make with PYTHON=/path/to/python3.11"; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: PYTHON: $(PYTHON) is Python %d.%d; this project needs 3.11 or newer: install one and run make with PYTHON=python3.11 (or newer)" % tuple(sys.version_info[:2]))'
endef

# Install what is missing of $(1), in parallel (Python and npm at once).
define install
	$(preflight)
	+@$(MAKE) -s --no-print-directory -j3 _install DEPS="$(1)"
endef

.PHONY: help install synth test plan validate validate-profiles validate-stacks terraform-on-path bench capacity local replay scan clean clean-env _install

help:
	@echo "targets:"
	@echo "  make synth     install what synth needs (Python packages, CLI), then cdktf synth into cdktf.out/stacks"
	@echo "  make test      install what the tests need (also checkov), then run the whole test suite"
	@echo "  make plan      synth, then TERRAFORM init + plan in each stack directory"
	@echo "  make validate  synth, then terraform validate + offline plan of every stack (offline when the registry is unreachable)"
	@echo "  make validate-profiles  the same for the default, fan-out and ordered configurations in both stack profiles"
	@echo "  make scan      synth, then the checkov security scan of every stack"
	@echo "  make bench     performance figures (ARGS=--setup: fresh-clone set-up times instead)"
	@echo "  make capacity  each environment's peak against AWS's quotas: [capacity] in CONFIG (ARGS=\"--quota sns_publish=60000\")"
	@echo "  make local     the pipeline end to end on a local AWS emulator (ARGS=\"--items 500\")"
	@echo "  make replay    republish failed stream batches from the failure queue or bucket (ARGS=\"--queue-url ... | --bucket ... --topic-arn ...\")"
	@echo "  make install   install everything (Python packages, CLI, checkov) without running anything"
	@echo "  make validate-stacks  refuse stack folders holding both cdk.tf and cdk.tf.json (make plan runs it)"
	@echo "  make terraform-on-path  check that TERRAFORM is on PATH (make plan runs it)"
	@echo "  make clean     remove cdktf.out, cdktf.out.profiles, .build and .pytest_cache"
	@echo "  make clean-env remove the installed environments (.venv*, node_modules, cdktn/node_modules)"
	@echo "  make help      this list"
	@echo "variables (make synth NAME=value):"
	@echo "  CONFIG=FILE         pipeline configuration, TOML or JSON (default: \$$PIPELINE_CONFIG, else the original design)"
	@echo "  ENVIRONMENTS=a,b    only these environments of CONFIG (default: \$$PIPELINE_ENVIRONMENTS, else all)"
	@echo "  PROFILE=current     stack_profile of every environment for this run: tutorial or current (default: CONFIG's)"
	@echo "  CDK=cdktf|cdktn     cdktf 0.21 (default; .venv, package.json) or CDK Terrain (.venv-cdktn, cdktn/)"
	@echo "  TERRAFORM=terraform the binary make plan runs, e.g. TERRAFORM=tofu for OpenTofu (default terraform)"
	@echo "  ARGS=\"...\"          extra arguments for pytest (make test), bench, local or replay"
	@echo "  PYTHON=python3      the Python (3.11+) the virtual environments are built from (default python3)"
	@echo "  VALIDATE_OFFLINE=1  make validate: use the local module copies and schema-only providers even if the registry is reachable"
	@echo "  INSTALLER=uv|pip    install Python packages with uv (default; uv on PATH, else one in .venv-tools) or pip"

install:
	$(call install,$(TEST_DEPS))

# Runs in a sub-make with -j: the stamps below build in parallel.
_install: $(DEPS)
	@:

$(TOOLS)/.ready: scripts/tools-requirements.txt
	@$(PYTHON) scripts/setup_env.py uv $(TOOLS)
	@mkdir -p $(TOOLS) && touch $@

$(VENV)/.installed: $(PIPFILE) scripts/pipfile_requirements.py | $(UV_READY)
	@$(PYTHON) scripts/setup_env.py venv $(VENV) --pipfile $(PIPFILE)
	@touch $@

# checkov pins an older boto3 than the project, so it lives in its own environment.
$(SCAN_VENV)/.installed: security/requirements.txt | $(UV_READY)
	@$(PYTHON) scripts/setup_env.py venv $(SCAN_VENV) --requirements security/requirements.txt
	@touch $@

$(CLI): $(NPM_DIR)/package.json
	@$(PYTHON) scripts/setup_env.py npm $(NPM_DIR)
	@touch $@

# The configuration is checked first: a bad one then stops with its message printed once (the
# cdktf CLI would print the app's error output twice, as it streams and in its summary).
define synthesize
	@$(PY) main.py --check
	@test -d .build/jsii || echo "==> $(CDK) synth (the first run after install also prepares the provider's jsii files, about 15 s)"
	@# The installed Node.js first on PATH too: cdktn-cli checks `node --version` (>= 22) itself.
	@export $(WITH_NODE) PIPELINE_CAPACITY_SHOWN=1; PATH="$(CURDIR)/$(NODE_MODULES)/.bin:$$PATH" "$$JSII_NODE" $(CLI) synth
	@ls -1 cdktf.out/stacks/*/cdk.tf.json
endef

synth:
	$(call install,$(SYNTH_DEPS))
	$(synthesize)

test:
	$(call install,$(TEST_DEPS))
	@$(WITH_NODE) $(PY) -m pytest $(ARGS)

# Checked before synth, so a missing binary fails at once.
plan: terraform-on-path synth validate-stacks
	@for dir in cdktf.out/stacks/*/; do \
	  echo "==> $(TERRAFORM) plan in $$dir"; \
	  (cd $$dir && $(TERRAFORM) init -input=false && $(TERRAFORM) plan -input=false) || exit 1; \
	done

validate-stacks:
	@$(PYTHON) scripts/check_stacks.py cdktf.out

# Offline (local module copies, schema-only provider, plus an offline plan) when ../shared/terraform
# or PIPELINE_TERRAFORM_OFFLINE_DIR exists and the registry cannot be reached, or when VALIDATE_OFFLINE=1.
validate: synth validate-stacks
	@$(PY) scripts/terraform_validate.py $(if $(filter 1,$(VALIDATE_OFFLINE)),--offline,--auto-offline) --plan cdktf.out/stacks/*/

# The default, fan-out and ordered configurations in both stack profiles: each synthesized into its own
# folder (main.py in-process, no CLI), then every stack validated (and planned offline) in one run.
PROFILE_OUT := cdktf.out.profiles
validate-profiles:
	$(call install,$(SYNTH_DEPS))
	@rm -rf $(PROFILE_OUT) && mkdir -p $(PROFILE_OUT)
	@export $(WITH_NODE) PIPELINE_CAPACITY_SHOWN=1 PIPELINE_ENVIRONMENTS=; \
	for profile in tutorial current; do for config in "" examples/fanout.toml examples/ordered.toml; do \
	  name=$$(basename "$${config:-default}" .toml); \
	  echo "==> synth $$name, stack_profile = $$profile"; \
	  PIPELINE_CONFIG="$$config" PIPELINE_STACK_PROFILE=$$profile CDKTF_OUTDIR=$(PROFILE_OUT)/$$profile-$$name \
	    $(PY) main.py || exit 1; \
	done; done
	@$(PY) scripts/terraform_validate.py $(if $(filter 1,$(VALIDATE_OFFLINE)),--offline,--auto-offline) --plan $(PROFILE_OUT)/*/stacks/*/

scan:
	$(call install,$(TEST_DEPS))
	$(synthesize)
	@$(WITH_NODE) $(PY) scripts/security_scan.py

terraform-on-path:
	@command -v $(TERRAFORM) >/dev/null 2>&1 || { echo "error: TERRAFORM: no '$(TERRAFORM)' binary on PATH; install Terraform >= 1.3 or OpenTofu (make plan TERRAFORM=tofu) to plan (make synth writes cdktf.out/stacks without it)"; exit 1; }

bench:
	$(call install,$(TEST_DEPS))
	@$(WITH_NODE) $(PY) -m bench $(ARGS)

# Pure Python (pipeline_model only): no Node.js, no cdktf.
capacity:
	$(call install,$(VENV)/.installed)
	@$(PY) -m pipeline_model.capacity $(ARGS)

local:
	$(call install,$(VENV)/.installed)
	@$(WITH_NODE) $(PY) -m local_pipeline $(ARGS)

replay:
	$(call install,$(VENV)/.installed)
	@$(WITH_NODE) $(PY) -m tools.replay_stream_failures $(ARGS)

clean:
	rm -rf cdktf.out cdktf.out.profiles .build .pytest_cache

clean-env:
	rm -rf .venv .venv-cdktn .venv-scan .venv-tools node_modules cdktn/node_modules
