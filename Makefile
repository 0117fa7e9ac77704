# The README's two commands: `make demo` and `make test`. Each sets up what it needs.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench setup graphviz browser clean

demo: setup
	$(VENV)/bin/graphc demo

test: setup browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

bench: setup
	$(PY) benchmarks/train_step.py
	$(PY) benchmarks/scaling_lower.py
	$(PY) benchmarks/scaling.py
	$(PY) benchmarks/render_large.py
	$(PY) benchmarks/jax_step.py

setup: graphviz $(STAMP)

# The Graphviz `dot` program comes from the system's packages when it is missing.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "installing Graphviz (the dot program)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz >/dev/null; }

# The step-through page's tests drive a real headless Chromium (Debian's chromium and
# chromium-driver packages); without them those tests fail, they do not skip.
browser:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { \
	  echo "installing Chromium and its driver (for the browser tests)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,jax]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info
