# Two commands matter: `make run` and `make test`. Both bootstrap .venv/ from nothing and
# re-install only when pyproject.toml or requirements.lock change.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: run test test-unit test-integration test-infra test-e2e lint format schemas lock synth package package-host bench clean down

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	@$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

## Run the whole pipeline locally (embedded AWS, Places stub when no key) and show the result.
run: $(STAMP)
	$(BIN)/restaurant-pipeline demo

## Every check a reviewer would run: lint, types, schema drift, then every test tier.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contracts services restaurant_pipeline cdk
	$(BIN)/pytest tests -q -p no:cacheprovider

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

test-integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

test-infra: $(STAMP)
	$(BIN)/pytest tests/infrastructure -q

test-e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contracts services restaurant_pipeline cdk

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Regenerate the committed JSON Schemas from the contract models.
schemas: $(STAMP)
	$(BIN)/python -m contracts.generate

## Re-resolve the pinned lock file after changing dependencies in pyproject.toml.
lock:
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"; }
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock --python-version 3.11

## The template into cdk.out/ for review: placeholder functions when the zips are not built (never deployable by accident:
## without `-c lambda_code=auto` the app needs the zips of `make package`).
synth: $(STAMP)
	$(BIN)/python -m cdk.app -c lambda_code=auto

## The three Lambda zips for AWS (Linux arm64, CPython 3.12) under build/lambda/.
package: $(STAMP)
	$(BIN)/python -m restaurant_pipeline.artifacts

## The same three artifacts for this machine, run by the local Lambda sandbox (`local up --artifacts`); cached.
package-host: $(STAMP)
	$(BIN)/python -m restaurant_pipeline.artifacts --host

bench: $(STAMP)
	$(BIN)/python -m benchmarks

down: $(STAMP)
	$(BIN)/restaurant-pipeline local down

clean:
	rm -rf $(VENV) cdk.out dbt/target dbt/logs .mypy_cache .ruff_cache .pytest_cache
