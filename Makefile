# The two commands of the README. Each one sets up a local virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# A CPU build of torch where the machine offers one; override for a CUDA machine,
# e.g. `make demo TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

demo: setup
	$(VENV)/bin/craftpix beads --image examples/astronaut.jpg --size 48 --colors 12 --out demo --seed 0

test: setup
	$(VENV)/bin/ruff check craftpix tests bench
	$(PY) -m pytest

clean:
	rm -rf demo .pytest_cache .ruff_cache
