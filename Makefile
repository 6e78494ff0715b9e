# Two entry points (README): `make bench` runs the suite and prints the comparison table,
# `make test` runs the unit tests and the gated suite. Both create .venv on first use:
# torch==2.13.0 first (a CPU wheel on this machine kind), then everything pinned by the
# known-good constraints.
VENV ?= .venv
PYTEST = $(VENV)/bin/pytest

.PHONY: bench test nightly pr merge compare compare-upgrade candidate-venv venv clean-venv readme-picture
.PHONY: docs results-page
.PHONY: bisect-report alert post-alerts

$(VENV)/.installed: pyproject.toml constraints/known-good.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -c constraints/known-good.txt -e ".[all,dev]"
	touch $@

venv: $(VENV)/.installed

bench: $(VENV)/.installed
	$(PYTEST) bench $(ARGS)

# The gated suite first, alone on the machine (its speed tests time pairs; a neighbour's load
# would only widen their intervals), then the unit tests on TEST_JOBS xdist workers, one test
# file per worker at a time (--dist loadfile: a file's module fixtures are built once), and
# last, alone again, the unit tests that assert on real timings (marker `timing`). All three
# always run; the target fails if any did. The unit tests list their slowest (what a cost
# review of CI's log starts from).
TEST_JOBS ?= auto
test: $(VENV)/.installed
	$(PYTEST) bench $(ARGS); gate=$$?; \
	$(PYTEST) tests -m "not timing" -n $(TEST_JOBS) --dist loadfile --durations=25 $(ARGS); units=$$?; \
	$(PYTEST) tests -m timing --durations=10 $(ARGS); timed=$$?; \
	exit $$(( gate || units || timed ))

# The README's picture: the detector's Pareto plot from the embedded-default run (`make bench`).
readme-picture: bench
	mkdir -p docs/pictures
	cp reports/latest-scrfd_500m_kps-pareto.png docs/pictures/scrfd_500m_kps-pareto.png

# The documentation site (mkdocs.yml, docs/): built strictly into site/, as
# tests/test_docs_site.py builds it. The results page is rendered from one run's results file:
# `make results-page RESULTS=reports/latest-results.json` (default: re-render the page's own copy).
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

results-page: $(VENV)/.installed
	$(VENV)/bin/python -m compbench.runner.results_page $(RESULTS_PAGE_FILE)

# The workflows' commands (.github/workflows): one engine family's gated run with every round
# saved for --benchmark-compare, and the pull-request gate (unit tests, accuracy and size).
# SHARD=K/N: job K of the family's build groups split in N of balanced duration (docs/sharding.md)
FAMILY ?= torch
SHARD ?= 1/1
nightly: $(VENV)/.installed
	$(PYTEST) bench --engine-family $(FAMILY) --shard $(SHARD) --benchmark-save-data --footprint $(ARGS)

pr: $(VENV)/.installed
	$(PYTEST) tests bench/test_accuracy.py bench/test_floor.py bench/test_size.py $(ARGS)

# One report from several sessions' results files (the nightly families' artifacts, unpacked
# under shards/ by the workflow; or name them: RESULTS="a.json b.json").
RESULTS ?= $(wildcard shards/*/reports/latest-results.json)
# results-page takes only a RESULTS that was given, never the shards' default
RESULTS_PAGE_FILE = $(if $(filter command line environment,$(origin RESULTS)),$(RESULTS))
merge: $(VENV)/.installed
	$(VENV)/bin/compbench merge $(RESULTS) --report-dir reports/merged

# `compbench compare` (README): every variant matching FILTER timed on two sides interleaved,
# evaluated and sized on both; red on a significant regression. BASE/HEAD: a git ref, a
# checkout folder, or @PYTHON for another environment; BASE defaults to the last green nightly
# (.ci/last-green: GitHub CLI with a token, else HEAD~1).
BASE ?= $(shell .ci/last-green)
HEAD ?= .
FILTER ?=
compare: $(VENV)/.installed
	$(VENV)/bin/compbench compare $(BASE) $(HEAD) $(FILTER) --out reports/compare.md

# The same code on the known-good environment and on a candidate one with tonight's newest
# engines (torch stays 2.13.0: any other torch is a multi-GB CUDA download here).
CANDIDATE ?= .venv-candidate
candidate-venv:
	python3 -m venv $(CANDIDATE)
	$(CANDIDATE)/bin/pip install --quiet torch==2.13.0
	$(CANDIDATE)/bin/pip install --quiet -e ".[all]"
	$(CANDIDATE)/bin/pip install --quiet --upgrade onnxruntime openvino

compare-upgrade: $(VENV)/.installed candidate-venv
	$(VENV)/bin/compbench compare @$(VENV)/bin/python @$(CANDIDATE)/bin/python $(FILTER) --out reports/compare-upgrade.md

# `compbench bisect` as the alert a red nightly files (docs/how-to/bisect.md): the first commit
# of GOOD..BAD that regressed VARIANT, written to reports/bisect-alert.md (an issue body: variant,
# metric, first bad commit, evidence table, reproduce commands). GOOD defaults to the last green
# nightly (.ci/last-green), BAD to HEAD; REPORT_URL is linked from the bisect alert.
GOOD ?= $(shell .ci/last-green)
BAD ?= HEAD
bisect-report: $(VENV)/.installed
	@test -n "$(VARIANT)" || { echo "make bisect-report: give VARIANT=<id> (compbench variants)" >&2; exit 2; }
	$(VENV)/bin/compbench bisect $(GOOD) $(BAD) --select $(VARIANT) --alert reports/bisect-alert.md $(if $(REPORT_URL),--report-url $(REPORT_URL)) $(ARGS)

# A red night, diagnosed: every variant the gate's results files call red (RESULTS, as merge;
# at most ALERT_LIMIT, `compbench regressions`) bisected between GOOD and BAD as bisect-report
# does, one alert markdown per variant under ALERTS (docs/how-to/bisect.md).
ALERT_LIMIT ?= 3
ALERTS ?= reports/alerts
alert: $(VENV)/.installed
	@rm -rf $(ALERTS) && mkdir -p $(ALERTS)
	@variants=$$($(VENV)/bin/compbench regressions $(RESULTS) --limit $(ALERT_LIMIT)) || exit 2; \
	[ -n "$$variants" ] || { echo "alert: no variant regressed in $(RESULTS)"; exit 0; }; \
	status=0; for variant in $$variants; do \
	  $(VENV)/bin/compbench bisect $(GOOD) $(BAD) --select $$variant \
	    --alert $(ALERTS)/$$(echo $$variant | tr / _).md $(if $(REPORT_URL),--report-url $(REPORT_URL)) $(ARGS) || status=1; \
	done; exit $$status

# Each alert of `make alert` as a GitHub issue (gh with GH_TOKEN, the job's default token).
post-alerts:
	@set -- $(ALERTS)/*.md; [ -e "$$1" ] || { echo "post-alerts: no alert in $(ALERTS)"; exit 0; }; \
	command -v gh >/dev/null && [ -n "$$GH_TOKEN" ] || { echo "post-alerts: needs gh and GH_TOKEN" >&2; exit 2; }; \
	for body in "$$@"; do \
	  gh issue create --title "$$(head -n 1 "$$body" | sed 's/^# //')" --body-file "$$body" || exit 1; \
	done

clean-venv:
	rm -rf $(VENV)
