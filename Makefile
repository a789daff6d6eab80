# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs (CPU torch from the pinned file, then the
# project with every extra). PYTHON may point at another interpreter (>= 3.10).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

AZURITE := .azurite/node_modules/.bin/azurite-blob
AZURITE_VERSION ?= 3.37.0

.PHONY: demo test lint typecheck bench docs dist dist-check clean azurite serve-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[train,azure,serve,stac,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/landcover demo --out demo-output

# The tutorial's real-time view in the browser, on the demo's held-out tile and trained model
# (runs `make demo` first if its outputs are missing).
serve-demo: $(STAMP)
	@test -f demo-output/training/model.safetensors || $(BIN)/landcover demo --out demo-output
	$(BIN)/landcover serve demo-output/data/synth_000_NAIP.tif --model demo-output/training/model.safetensors --open

# Azurite (Microsoft's Azure Storage emulator) for the Azure Blob tests, installed with npm into
# a project-local folder. Without npm the install is skipped and those tests report a skip.
$(AZURITE):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --no-audit --no-fund --silent --prefix .azurite azurite@$(AZURITE_VERSION); \
	else echo "npm not found: Azure Blob tests will be skipped"; fi

azurite: $(AZURITE)

test: $(STAMP) $(AZURITE)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy src

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Wheel + sdist, then a clean venv with only the core dependencies: import, CLI, torch absent.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --quiet --outdir dist .

dist-check: dist
	rm -rf build/wheel-venv
	$(PYTHON) -m venv build/wheel-venv
	build/wheel-venv/bin/python -m pip install --quiet dist/*.whl
	build/wheel-venv/bin/landcover --version
	build/wheel-venv/bin/landcover --help > /dev/null
	build/wheel-venv/bin/python -c "import importlib.util, landcover_sdk; from landcover_sdk import Predictor; \
	assert importlib.util.find_spec('torch') is None, 'torch must not be a core dependency'; \
	print('wheel OK:', landcover_sdk.__version__)"
	# the built-in model on a shipped real sample, from the wheel alone (no torch, no network, no checkout)
	cd build && wheel-venv/bin/landcover -q model list > /dev/null && \
	wheel-venv/bin/landcover -q predict builtin:tutorial-250epochs \
	  "$$(wheel-venv/bin/python -c 'from landcover_sdk import samples; print(samples.chesapeake_2014_pairs()[0].image)')" \
	  wheel-classes.tif --no-progress && test -s wheel-classes.tif
	test $$(stat -c %s dist/*.whl) -lt 10000000 || { echo "wheel over 10 MB"; exit 1; }
	tar -tzf dist/*.tar.gz | grep -q "src/landcover_sdk/py.typed"
	tar -tzf dist/*.tar.gz | grep -q "src/landcover_sdk/resources/models/tutorial-250epochs.safetensors"

bench: $(STAMP)
	$(BIN)/python benchmarks/data.py

clean:
	rm -rf $(VENV) .azurite build dist site .pytest_cache .mypy_cache .ruff_cache demo-output
