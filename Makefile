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
	$(UV) sync --frozen --all-packages --python $(PYTHON)
	touch $@

# The contract toolchain (AssemblyScript, solc-js, binaryen, OpenZeppelin) from package-lock.json.
node_modules/.installed: package.json package-lock.json sdk/assemblyscript/package.json
	@command -v node >/dev/null || { echo "error: Node.js 18+ is needed for the contract toolchain (apt-get install nodejs npm)"; exit 1; }
	@command -v npm >/dev/null || { echo "error: npm is needed for the contract toolchain (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

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
	rm -rf $(VENV) .tools node_modules
