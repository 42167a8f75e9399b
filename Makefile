# Everything installs into .venv/ at the repo root. uv itself is bootstrapped into .tools/.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/uv/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_LINK_MODE := copy

.PHONY: install run test lint typecheck bench clean

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .tools/uv uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) uv.lock pyproject.toml kernel/pyproject.toml $(wildcard plugins/*/pyproject.toml)
	PYTHONPATH=.tools/uv $(UV) sync --frozen --all-packages --python $(PYTHON)
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/supervm demo --once

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

bench: install
	$(VENV)/bin/supervm bench wasm-call

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .tools
