# Two commands matter: `make run` and `make test`. Both bootstrap .venv/ from nothing and
# re-install only when pyproject.toml, setup.py or requirements.lock change. `make help` lists every target.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9
# The Pythons and platforms requirements.lock must install on (`make lock-check`).
SUPPORTED_PYTHONS   := 3.11 3.12 3.13
SUPPORTED_PLATFORMS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin

.DEFAULT_GOAL := help
.PHONY: help install run test test-unit test-integration test-infra test-e2e lint format schemas lock lock-check \
	synth package package-host bench clean down

## List the targets.
help:
	@awk '/^## / { doc = doc (doc ? " " : "") substr($$0, 4); next } \
		/^[a-z][a-z0-9-]*:/ && doc { sub(/:.*/, "", $$1); printf "  make %-17s %s\n", $$1, doc } { doc = "" }' $(MAKEFILE_LIST)

# .venv/ from a supported Python (3.11-3.13, found on PATH or named with `make PYTHON=...`); says which.
$(BIN)/python:
	@python=$$(scripts/pick-python.sh $(PYTHON)) || exit 1; \
	echo "Creating $(VENV)/ with $$python (Python $$($$python -c 'import platform; print(platform.python_version())'))"; \
	$$python -m venv $(VENV)

$(STAMP): pyproject.toml setup.py requirements.lock | $(BIN)/python
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	@$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

## Create .venv/ (a supported Python, then the locked dependencies); the other targets do it when needed.
install: $(STAMP)

## Run the whole pipeline locally (embedded AWS, Places stub when no key) and show the result.
run: $(STAMP)
	$(BIN)/restaurant-pipeline demo

## Every check a reviewer would run: lint, types, schema drift, then every test tier (about 25 min on 2 cores).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contracts services restaurant_pipeline cdk
	$(BIN)/pytest tests -q -p no:cacheprovider

## The unit tests only (no network, seconds).
test-unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

## The integration tests (moto's server, the Places stub, dbt).
test-integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

## The CDK tests (synthesis, cfn-lint, cdk-nag, assertions).
test-infra: $(STAMP)
	$(BIN)/pytest tests/infrastructure -q

## The end-to-end tests on local stacks (the demo, the drills, the pasted commands of the docs).
test-e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -q

## ruff (lint and format check) and mypy.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contracts services restaurant_pipeline cdk

## Fix what ruff can fix, and format.
format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Regenerate what the contract models generate: the JSON Schemas, the dbt column macros, the raw source's columns.
schemas: $(STAMP)
	$(BIN)/python -m contracts.generate

## Re-resolve requirements.lock after changing dependencies in pyproject.toml: once for every supported Python and
## platform (uv's universal resolution; pyproject.toml [tool.uv] holds the overrides and why).
lock: | $(BIN)/python
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 -o requirements.lock

## Check that every locked distribution has a wheel for each supported Python on Linux and macOS (asks the registry).
lock-check: | $(BIN)/python
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@status=0; for python in $(SUPPORTED_PYTHONS); do for platform in $(SUPPORTED_PLATFORMS); do \
		if $(BIN)/uv pip compile requirements.lock --no-config --no-python-downloads --quiet --no-deps --only-binary :all: \
			--python-version $$python --python-platform $$platform -o /dev/null 2>$(VENV)/lock-check.err; then \
			echo "ok      Python $$python on $$platform"; \
		else \
			echo "MISSING Python $$python on $$platform: $$(grep -m1 'cause:' $(VENV)/lock-check.err)"; status=1; \
		fi; done; done; exit $$status

## The template into cdk.out/ for review, as `npx aws-cdk synth` writes it: placeholder functions when the zips are
## not built (never deployable by accident: such a template asks for a parameter no deployment gives).
synth: $(STAMP)
	$(BIN)/python -m cdk.app

## The three Lambda zips for AWS (Linux arm64, CPython 3.12) under build/lambda/.
package: $(STAMP)
	$(BIN)/python -m restaurant_pipeline.artifacts

## The same three artifacts for this machine, run by the local Lambda sandbox (`local up --artifacts`); cached.
package-host: $(STAMP)
	$(BIN)/python -m restaurant_pipeline.artifacts --host

## Every benchmark (10-15 min); writes benchmarks/results/ and docs/performance.md's tables.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## Stop the local stack (saving its data under .pipeline/).
down: $(STAMP)
	$(BIN)/restaurant-pipeline local down

## Remove .venv/ and the build outputs (not .pipeline/, the local stack's data).
clean:
	rm -rf $(VENV) cdk.out dbt/target dbt/logs .mypy_cache .ruff_cache .pytest_cache
