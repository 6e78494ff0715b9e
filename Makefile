# Two entry points (README): `make bench` runs the suite and prints the comparison table,
# `make test` runs the unit tests and the gated suite. Both create .venv on first use:
# torch==2.13.0 first (a CPU wheel on this machine kind), then everything pinned by the
# known-good constraints.
VENV ?= .venv
PYTEST = $(VENV)/bin/pytest

.PHONY: bench test nightly pr venv clean-venv

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

# The workflows' commands (.github/workflows): one engine family's gated run with every round
# saved for --benchmark-compare, and the pull-request gate (unit tests, accuracy and size).
FAMILY ?= torch
nightly: $(VENV)/.installed
	$(PYTEST) bench --engine-family $(FAMILY) --benchmark-save-data $(ARGS)

pr: $(VENV)/.installed
	$(PYTEST) tests bench/test_accuracy.py bench/test_size.py $(ARGS)

clean-venv:
	rm -rf $(VENV)
