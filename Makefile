# Two entry points (README): `make bench` runs the suite and prints the comparison table,
# `make test` runs the unit tests and the gated suite. Both create .venv on first use:
# torch==2.13.0 first (a CPU wheel on this machine kind), then everything pinned by the
# known-good constraints.
VENV ?= .venv
PYTEST = $(VENV)/bin/pytest

.PHONY: bench test venv clean-venv

$(VENV)/.installed: pyproject.toml constraints/known-good.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -c constraints/known-good.txt -e ".[all,dev]"
	touch $@

venv: $(VENV)/.installed

bench: $(VENV)/.installed
	$(PYTEST) bench $(ARGS)

test: $(VENV)/.installed
	$(PYTEST) bench tests $(ARGS)

clean-venv:
	rm -rf $(VENV)
