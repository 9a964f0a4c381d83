# The two commands of the README. Each one sets up a local virtual environment first, from the
# committed lock (requirements/), never by resolving versions anew.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install -q --no-deps --no-build-isolation
# The torch build for the prompt engine. pip picks the CPU build where the machine's index
# offers one; for a CUDA machine, e.g. `make test TORCH_SPEC="torch==2.13.0 --index-url <CUDA index>"`.
TORCH_SPEC ?= torch==$(shell sed -n 's/^torch==//p' requirements/torch.txt)

.PHONY: setup setup-core demo test browser check-core lock lint clean

# The light core: enough for `make demo` (no torch, no diffusion models).
setup-core: $(VENV)/.core

$(VENV)/.core: requirements/core.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --no-deps -r requirements/core.txt
	$(PIP) -e .
	touch $@

# Everything: every extra and the test tools.
setup: $(VENV)/.installed

$(VENV)/.installed: requirements/dev.txt requirements/torch.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-deps "$(TORCH_SPEC)"
	$(PY) -m pip install -q --require-hashes --no-deps -r requirements/dev.txt
	$(PIP) -e .
	touch $(VENV)/.core $@

demo: setup-core
	$(VENV)/bin/craftpix beads --image examples/astronaut.jpg --size 48 --colors 12 --out demo --seed 0

test: setup browser
	$(VENV)/bin/ruff check craftpix tests bench
	$(PY) -m pytest

# The browser test drives Debian's Chromium (Playwright's own browser download is not used).
# CI runs as root and installs it here; elsewhere run `sudo apt-get install chromium` once.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	  else echo "note: the browser test needs chromium (sudo apt-get install chromium)"; fi; }

# The core alone, in a fresh venv: installs without any extra and makes a pattern without
# importing torch, diffusers, transformers or peft.
check-core:
	rm -rf build/core-venv
	$(PYTHON) -m venv build/core-venv
	build/core-venv/bin/python -m pip install -q --require-hashes --no-deps -r requirements/core.txt
	build/core-venv/bin/python -m pip install -q --no-deps --no-build-isolation .
	cd build && core-venv/bin/python ../tests/core_only.py ../examples/astronaut.jpg

# Regenerate the lock after changing pyproject.toml (needs the registry; pip-tools).
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q pip-tools
	$(PY) -m piptools compile -q --generate-hashes --strip-extras --allow-unsafe \
	    -c requirements/torch.txt --extra diffusion --extra restore --extra faces --extra cluster --extra test --extra bench \
	    -o requirements/dev.txt pyproject.toml requirements/build.in
	# torch is installed on its own (TORCH_SPEC), so that a CUDA build can take its place
	awk '/^torch==/{skip=1;next} skip && /^ /{next} {skip=0; print}' requirements/dev.txt \
	    > requirements/dev.tmp && mv requirements/dev.tmp requirements/dev.txt
	$(PY) -m piptools compile -q --generate-hashes --strip-extras --allow-unsafe \
	    -c requirements/dev.txt -o requirements/core.txt pyproject.toml requirements/build.in

lint: setup
	$(VENV)/bin/ruff check craftpix tests bench

clean:
	rm -rf demo build .pytest_cache .ruff_cache
