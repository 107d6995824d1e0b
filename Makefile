# Two commands do all the set-up on a machine with nothing but python3:
#   make demo   fits the bundled data and writes the figures (and report.html) into kmix-demo/
#   make test   runs the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
STAMP_BENCH := $(VENV)/.installed-bench
JOBS ?= 2

.PHONY: demo test bench clean venv figures sklearn-suite

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The demo writes an interactive report too: kmix with its report extra (Bokeh).
$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[report]'
	touch $@

# The dev extra holds the report's Bokeh as well, so it is also the demo's install.
$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

$(STAMP_BENCH): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@ $(STAMP_DEV) $(STAMP_RUN)

venv: $(STAMP_DEV)

demo: $(STAMP_RUN)
	MPLBACKEND=Agg $(VENV)/bin/kmix demo --out kmix-demo

# A test file's tests on one worker: kernels that several of its tests compile are
# compiled once, not by both workers at the same time.
test: $(STAMP_DEV)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg $(PY) -m pytest -n $(JOBS) --dist loadfile -q

# scikit-learn's own KMeans and GaussianMixture tests, run with kmix's estimators in
# their place; prints pass/fail counts by cause. Not part of `make test`.
sklearn-suite: $(STAMP_DEV)
	$(PY) tools/sklearn_suite.py

bench: $(STAMP_BENCH)
	MPLBACKEND=Agg $(PY) bench/run.py

clean:
	rm -rf $(VENV) kmix-demo build dist src/*.egg-info .pytest_cache .hypothesis

# the README's pictures (the report's screenshot drives chromium: needs the dev extra)
figures: $(STAMP_DEV)
	MPLBACKEND=Agg $(VENV)/bin/kmix demo --out docs/figures
	MPLBACKEND=Agg $(PY) tools/model_figures.py docs/figures/covariance_models.png
	MPLBACKEND=Agg $(PY) tools/selection_figure.py docs/figures/select_bic.png
	$(PY) tools/report_screenshot.py docs/figures/report.html docs/figures/report.png
	rm -f docs/figures/report.html
