# Everything installs into .venv/ at the repo root. uv itself is bootstrapped into .tools/.
# requirements.lock pins every third-party package (exported from the workspace's uv lock by
# `make lock`); the kernel and the plugins are installed editable on top, without dependencies.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/uv/bin/uv
VENV := .venv
export UV_LINK_MODE := copy
LOCAL_PACKAGES := kernel $(sort $(dir $(wildcard plugins/*/pyproject.toml)))

.PHONY: install run test test-ci test-sanitize lint typecheck bench lock clean

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .tools/uv uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) requirements.lock kernel/pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(VENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(VENV)/bin/python requirements.lock
	$(UV) pip install --quiet --python $(VENV)/bin/python --no-deps $(addprefix -e ,$(LOCAL_PACKAGES))
	touch $@

# The contract toolchain (AssemblyScript, solc-js, binaryen, OpenZeppelin) from package-lock.json.
node_modules/.installed: package.json package-lock.json $(wildcard sdk/*/package.json explorer/package.json)
	@command -v node >/dev/null || { echo "error: Node.js 18+ is needed for the contract toolchain (apt-get install nodejs npm)"; exit 1; }
	@command -v npm >/dev/null || { echo "error: npm is needed for the contract toolchain (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The explorer the node serves: plain ES modules assembled into the explorer plugin's package data.
EXPLORER_APP := plugins/explorer/src/supervm_explorer/static/index.html
$(EXPLORER_APP): explorer/build.mjs explorer/package.json $(wildcard explorer/src/* explorer/src/js/*)
	npm run build --silent --workspace @supervm/explorer
	touch $@

# Headless Chromium for the explorer's browser test (Debian's package; root or sudo installs it).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "error: the explorer's browser test needs Chromium at $(CHROMIUM) (Debian: apt-get install chromium)"; exit 1; }
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# The JS SDK and the Hardhat plugin (TypeScript, ESM and CJS builds); the plugin needs the SDK's.
SDK_BUILT := sdk/.built
$(SDK_BUILT): node_modules/.installed $(shell find sdk/js/src sdk/hardhat-plugin/src -type f 2>/dev/null) sdk/js/package.json sdk/hardhat-plugin/package.json
	npm run build --silent --workspace sdk/js
	npm run build --silent --workspace sdk/hardhat-plugin
	touch $@

install: $(VENV)/.installed node_modules/.installed $(EXPLORER_APP) $(SDK_BUILT) $(CHROMIUM)

# A dev node that deploys the example ERC20 with a signed transaction, makes a few transfers and
# keeps serving JSON-RPC on 127.0.0.1:8545 until Ctrl-C; `make run ARGS=--once` exits after the
# demo (for scripts); other ARGS go to `supervm node` (e.g. ARGS="--rpc-port 8546").
DEMO_ARTIFACT := build/examples/ERC20.json

$(DEMO_ARTIFACT): examples/contracts/erc20-as/assembly/index.ts node_modules/.installed $(VENV)/.installed
	$(VENV)/bin/supervm compile examples/contracts/erc20-as --out $(dir $@) --optimize

run: install $(DEMO_ARTIFACT)
	$(VENV)/bin/supervm node --dev --demo $(DEMO_ARTIFACT) $(ARGS)

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	npm test --workspace sdk/assemblyscript
	npm test --workspace @supervm/explorer
	$(VENV)/bin/pytest -q -m "not ci_only"

# The long suites CI runs after `make test` (.ci/run): the whole Ethereum conformance run on
# both EVM backends, multi-node network faults.
test-ci: install
	$(VENV)/bin/pytest -q -m ci_only -p no:randomly; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

bench: install
	$(VENV)/bin/supervm bench wasm-call

# The native core's C under AddressSanitizer and UndefinedBehaviorSanitizer: rebuild it
# sanitized, run its differential and host-call tests, rebuild it normally (docs/native.md).
# Only the Python environment: the sanitized C needs no JS toolchain.
test-sanitize: $(VENV)/.installed
	SUPERVM_NATIVE_SANITIZE=1 $(UV) pip install --quiet --python $(VENV)/bin/python --no-deps --reinstall-package supervm-wasm-native -e plugins/wasm_native
	PYCRYPTODOME_DISABLE_DEEPBIND=1 LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:handle_segv=0:allow_user_segv_handler=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(VENV)/bin/pytest -q -p no:randomly plugins/wasm_native; status=$$?; \
	$(UV) pip install --quiet --python $(VENV)/bin/python --no-deps --reinstall-package supervm-wasm-native -e plugins/wasm_native; exit $$status

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# Re-resolve after changing a dependency: writes requirements.lock (uv.lock stays local).
lock: $(UV)
	$(UV) lock
	$(UV) export --quiet --format requirements-txt --all-packages --no-emit-workspace --no-hashes --no-header --output-file requirements.lock

clean:
	rm -rf $(VENV) .tools node_modules
